using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Jobs;
using LoraService.ServiceDefaults.Observability;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Ends an attempt in one transaction, only while its lease is still held (row locked, worker and attempt checked).
/// A cancel that was accepted wins over everything: a cancelling job ends <c>cancelled</c> even if its run completed.
/// Otherwise: completed → <c>succeeded</c> with artifacts, its checkpoints pruned (<see cref="CheckpointRetention"/>); no steps → <c>failed</c>; a shutdown → back to the queue
/// (<c>handed_back</c>); a crash, out-of-memory or hang → back to the queue until the job's <c>max_attempts</c>
/// attempts ended so, then <c>failed</c> with that code; a deterministic error → <c>failed</c> at once.
/// </summary>
internal sealed class JobFinisher(IServiceScopeFactory scopes, IArtifactStore store, JobWakeUps wakeUps, ILogger<JobFinisher> logger)
{
    public async Task FinishAsync(JobLease lease, FineTuneJob claimed, AttemptOutcome outcome, JobProgress? lastProgress)
    {
        // Zipping and hashing take a while: do it before the transaction, for a run that completed.
        IReadOnlyList<Artifact>? artifacts = outcome is { Code: "completed", Result.StepsCompleted: > 0 }
            ? ArtifactRegistrar.Register(store, lease.JobId, lease.TenantId, JobStorageKeys.Output(lease.JobId),
                outcome.Result.Files.Select(f => (f.Kind, f.RelativePath, f.ContentType)))
            : null;

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var job = (await db.Jobs.FromSqlRaw(
            """
            SELECT *, xmin FROM jobs WHERE id = {0} AND attempt = {1} AND worker_id = {2} AND status IN ('Running', 'Cancelling')
            FOR UPDATE
            """, lease.JobId, lease.Attempt, lease.Worker).ToListAsync()).SingleOrDefault();
        if (job is null)
        {
            logger.LogWarning("Job {JobId}: attempt {Attempt} no longer holds the job; its end ({Outcome}) is not recorded", lease.JobId, lease.Attempt, outcome.Code);
            return;
        }
        var attempt = await db.JobAttempts.SingleOrDefaultAsync(a => a.JobId == job.Id && a.Attempt == job.Attempt);
        // The heartbeat stores progress every few seconds; the end must not leave the row a few steps behind.
        if (lastProgress is not null) job.Progress = lastProgress with { EtaSeconds = null };
        var now = DateTimeOffset.UtcNow;
        var wake = false;
        var steps = outcome.Result is { } r ? $" at step {r.StepsCompleted}" : "";

        void Event(string message, string level, string type, object? data = null) =>
            db.JobEvents.Add(JobEvent.Create(job.Id, message, data ?? new { attempt = job.Attempt, outcome = outcome.Code, detail = outcome.Detail }, level, type));

        if (job.Status == JobStatus.Cancelling)
        {
            job.MoveTo(JobStatus.Cancelled, now);
            Event($"Job cancelled{steps}; its last checkpoint is kept", "info", "cancelled");
            attempt?.End("cancelled", outcome.Detail, now);
        }
        else
        {
            switch (outcome.Code)
            {
                case "completed" when artifacts is not null:
                    job.MoveTo(JobStatus.Succeeded, now);
                    db.Artifacts.RemoveRange(db.Artifacts.Where(a => a.JobId == job.Id));
                    db.Artifacts.AddRange(artifacts);
                    if (CheckpointRetention.PrunesOnSuccess(job.Spec)) db.Checkpoints.RemoveRange(db.Checkpoints.Where(c => c.JobId == job.Id));
                    Event($"Job succeeded after {outcome.Result!.StepsCompleted} steps ({outcome.Result.TokensSeen} tokens); {artifacts.Count} artifacts", "info", "succeeded");
                    break;
                case "max_wall_time":
                    job.Fail("max_wall_time", $"The job reached its max_wall_time ({job.Spec.MaxWallTime}){steps}; its last checkpoint is kept. " +
                        "POST /retry resumes it from there with a fresh allowance.", now);
                    Event($"Job stopped at its max_wall_time{steps}", "error", "failed");
                    break;
                case "completed" or "no_steps":
                    job.Fail("no_steps", "Training ran zero optimizer steps: the training data produced no example with a scored token (check max_sequence_length and the data).", now);
                    Event("Job failed: zero optimizer steps", "error", "failed");
                    break;
                case "handed_back" or "cancelled":
                    // "cancelled" without a cancel on the row: the child was stopped by a signal meant for the worker (Ctrl-C).
                    job.Requeue(now);
                    wake = true;
                    Event($"Worker {lease.Worker} stopped{steps}; the job goes back to the queue and will resume from its last checkpoint", "warning", "handed_back");
                    break;
                case var code when outcome.IsAbnormal:
                    wake = job.EndAbnormalAttempt(code, times => $"{Describe(code)} {times} times; it is not resumed again. Last: {outcome.Detail}. " +
                        "POST /retry resumes it from its last checkpoint.", now);
                    if (wake) Event($"Attempt {job.Attempt} {code}: {outcome.Detail}; the job resumes from its last checkpoint", "warning", code);
                    else Event($"Giving up after {job.FailedAttempts} failed attempts ({code})", "error", "failed");
                    break;
                default:
                    job.Fail(outcome.Code, outcome.Detail, now);
                    Event($"Job failed: {outcome.Detail}", "error", "failed");
                    break;
            }
            attempt?.End(outcome.Code, outcome.Detail, now);
        }
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        ServiceMetrics.JobsFinished.Add(1, new KeyValuePair<string, object?>("status", job.Status.ToString().ToLowerInvariant()));
        if (job is { FinishedAt: { } finished, StartedAt: { } started })
            ServiceMetrics.JobDuration.Record((finished - started).TotalSeconds, new KeyValuePair<string, object?>("status", job.Status.ToString().ToLowerInvariant()));
        if (job.Status == JobStatus.Succeeded && CheckpointRetention.PrunesOnSuccess(job.Spec)) JobFiles.DeleteCheckpoints(store, job.Id);
        if (wake) wakeUps.WakeUp(job.Id, job.Queue);
    }

    private static string Describe(string code) => code switch
    {
        "out_of_memory" => "The job ran out of memory",
        "hung" => "The job hung",
        _ => "The job's process crashed",
    };
}
