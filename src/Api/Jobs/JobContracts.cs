using LoraService.Domain.Jobs;

namespace LoraService.Api.Jobs;

/// <summary>
/// A fine-tuning job. Omitted settings take the documented defaults: LoRA r=16, alpha=2r, dropout 0.05 on all
/// seven projections; cosine schedule with 10% warmup; evaluation every 50 steps on up to 200 examples per set.
/// </summary>
/// <param name="BaseModel">Name of a model from GET /api/v1/models.</param>
/// <param name="Method">lora or full.</param>
/// <param name="TrainingDataset">Dataset id (text, prompt_completion or messages).</param>
/// <param name="ValidationDataset">Optional held-out dataset of the same kind; its loss is reported at each evaluation.</param>
/// <param name="Lora">LoRA settings (method lora only).</param>
/// <param name="Hyperparameters">Optimizer, schedule and batching.</param>
/// <param name="Evaluation">Target (learning) and source (forgetting) eval sets.</param>
/// <param name="CheckpointEvery">Optimizer steps between resumable checkpoints; 0 = only at the end.</param>
/// <param name="MaxAttempts">Attempts that may end abnormally (worker lost, crash, out of memory, hang; each resumes from the
/// last checkpoint) before the job fails; 1 to 20, default 3 (<c>Jobs__MaxAttempts</c>).</param>
/// <param name="Name">Display name.</param>
/// <param name="Tags">Free-form labels.</param>
public sealed record CreateJobRequest(
    string? BaseModel,
    FineTuneMethod? Method,
    Guid? TrainingDataset,
    Guid? ValidationDataset,
    LoraSettings? Lora,
    Hyperparameters? Hyperparameters,
    EvaluationSettings? Evaluation,
    int? CheckpointEvery,
    string? Name,
    IReadOnlyList<string>? Tags,
    int? MaxAttempts = null);

public sealed record JobErrorResponse(string Code, string Message);

public sealed record JobProgressResponse(int Step, int TotalSteps, double Epoch, long TokensSeen, double? EtaSeconds, int? QueuePosition);

/// <summary>The worker holding a running job under a lease. <c>stale</c>: the worker stopped answering (no renewal for a
/// half of its lease, a heartbeat and a half at the least, or the lease expired); the job moves to another worker when
/// the lease expires, and the ETA is unknown meanwhile.</summary>
public sealed record JobHolderResponse(string Worker, int Attempt, DateTimeOffset? HeartbeatAt, DateTimeOffset? LeaseExpiresAt, bool Stale);

public sealed record JobResponse(
    Guid Id,
    string? Name,
    JobStatus Status,
    FineTuneSpec Spec,
    JobProgressResponse Progress,
    JobErrorResponse? Error,
    IReadOnlyList<string> Tags,
    string? WorkerId,
    int Attempt,
    int FailedAttempts,
    JobHolderResponse? Holder,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt)
{
    public static JobResponse From(FineTuneJob job, int? queuePosition = null)
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
            job.Tags, job.WorkerId, job.Attempt, job.FailedAttempts, holder, job.CreatedAt, job.StartedAt, job.FinishedAt);
    }

    /// <summary>A worker renews its lease (length L) at least three times per L: half of L without renewal is a worker in trouble.</summary>
    private static bool IsStale(FineTuneJob job, DateTimeOffset now) =>
        job is not { LeaseExpiresAt: { } expiry, HeartbeatAt: { } beat }
        || expiry < now
        || now - beat > (expiry - beat) / 2;
}
