using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;

namespace LoraService.Api.Jobs;

public sealed record JobErrorResponse(string Code, string Message);

public sealed record JobProgressResponse(int Step, int TotalSteps, double Epoch, long TokensSeen, double? EtaSeconds, int? QueuePosition);

/// <summary>The worker holding a running job under a lease. <c>stale</c>: the worker stopped answering (no renewal for a
/// half of its lease, a heartbeat and a half at the least, or the lease expired); the job moves to another worker when
/// the lease expires, and the ETA is unknown meanwhile.</summary>
public sealed record JobHolderResponse(string Worker, int Attempt, DateTimeOffset? HeartbeatAt, DateTimeOffset? LeaseExpiresAt, bool Stale);

/// <summary>A job's learning and forgetting at its latest evaluation, as its summary defines them, one number each: the loss
/// when the sets measure it, else the first of perplexity, token_accuracy, acc_norm, acc, exact_match they measure. A side is
/// null until it was evaluated after step 0.</summary>
public sealed record JobHeadlineResponse(string? LearningMetric, double? Learning, string? ForgettingMetric, double? Forgetting, int Step);

public sealed record JobResponse(
    Guid Id,
    string? Name,
    JobStatus Status,
    JobSpec Spec,
    JobProgressResponse Progress,
    JobErrorResponse? Error,
    IReadOnlyList<string> Tags,
    string? WorkerId,
    int Attempt,
    int FailedAttempts,
    JobHolderResponse? Holder,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    JobHeadlineResponse? Headline = null)
{
    public static JobResponse From(FineTuneJob job, int? queuePosition = null, JobHeadlineResponse? headline = null)
    {
        var holder = JobLifecycle.IsHeld(job.Status) && job.WorkerId is { } worker
            ? new JobHolderResponse(worker, job.Attempt, job.HeartbeatAt, job.LeaseExpiresAt, IsStale(job, DateTimeOffset.UtcNow))
            : null;
        var running = job.Status == JobStatus.Running && holder is { Stale: false };
        return new(
            job.Id, job.Name, job.Status, job.Spec,
            new JobProgressResponse(job.Progress.Step, job.Progress.TotalSteps, job.Progress.Epoch, job.Progress.TokensSeen,
                running ? job.Progress.EtaSeconds : null, queuePosition),
            job.ErrorCode is null ? null : new JobErrorResponse(job.ErrorCode, job.ErrorMessage ?? ""),
            job.Tags, job.WorkerId, job.Attempt, job.FailedAttempts, holder, job.CreatedAt, job.StartedAt, job.FinishedAt, headline);
    }

    /// <summary>A worker renews its lease (length L) at least three times per L: half of L without renewal is a worker in trouble.</summary>
    private static bool IsStale(FineTuneJob job, DateTimeOffset now) =>
        job is not { LeaseExpiresAt: { } expiry, HeartbeatAt: { } beat }
        || expiry < now
        || now - beat > (expiry - beat) / 2;
}
