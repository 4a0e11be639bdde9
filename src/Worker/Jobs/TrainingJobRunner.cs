using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using LoraService.Training.Pipeline;
using LoraService.Worker.Devices;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Runs one job on this worker's device: claim the row, train (resuming from the job's last checkpoint if a previous
/// worker died), stream metrics, register artifacts and end the job. Runs synchronously on Hangfire's worker thread,
/// which TorchSharp's thread-local dispose scopes need.
/// </summary>
internal sealed class TrainingJobRunner(
    IServiceScopeFactory scopes, IArtifactStore store, LoraOptions lora, WorkerOptions options, WorkerIdentity me, ILogger<TrainingJobRunner> logger)
    : ITrainingJobRunner
{
    public void Run(Guid jobId, CancellationToken cancellationToken) => RunAsync(jobId, cancellationToken).GetAwaiter().GetResult();

    private async Task RunAsync(Guid jobId, CancellationToken shutdown)
    {
        FineTuneJob job;
        FineTuneRunSpec spec;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
            var claimed = await scope.ServiceProvider.GetRequiredService<JobClaimer>().TryClaimAsync(jobId, shutdown);
            if (claimed is null) return;
            job = claimed;
            try
            {
                spec = await RunSpecBuilder.BuildAsync(job, db, store, lora, me.Device, shutdown);
            }
            catch (JobInputException e)
            {
                await FinishAsync(jobId, j => j.Fail(e.Code, e.Message, DateTimeOffset.UtcNow), e.Message, "error");
                return;
            }
        }

        var metrics = new MetricWriter(scopes, jobId);
        FineTuneRunResult? result = null;
        Exception? failure = null;
        var userCancelled = false;
        await using (var heartbeat = new JobHeartbeat(scopes, jobId, metrics, options.HeartbeatInterval, logger))
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(shutdown, heartbeat.CancelRequested);
            try
            {
                logger.LogInformation("Job {JobId}: {Method} fine-tuning of {Model} on {Device} (attempt {Attempt})",
                    jobId, spec.Method, job.Spec.BaseModel, me.Device, job.Attempt);
                result = FineTuneRun.Execute(spec, new JobObserver(jobId, metrics, heartbeat, scopes, RunSpecBuilder.WorkKey(jobId), logger), stop.Token);
            }
            catch (Exception e)
            {
                failure = e;
            }
            userCancelled = heartbeat.CancelRequested.IsCancellationRequested;
            await heartbeat.BeatAsync(CancellationToken.None);
        }
        await metrics.FlushAsync();

        if (result?.Outcome == RunOutcome.Cancelled && !userCancelled)
        {
            // The worker is shutting down, not the user cancelling: hand the job back to the queue; the next worker resumes it.
            await FinishAsync(jobId, j => j.MoveTo(JobStatus.Queued, DateTimeOffset.UtcNow), $"Worker {me.Name} stopped; the job will resume from its last checkpoint", "warning");
            throw new OperationCanceledException("Worker shutting down; the job was re-queued.");
        }

        switch (result?.Outcome)
        {
            case RunOutcome.Completed when result.StepsCompleted > 0:
                var artifacts = ArtifactRegistrar.Register(store, jobId, job.TenantId, RunSpecBuilder.OutputKey(jobId),
                    result.Files.Select(f => (f.Kind, f.RelativePath, f.ContentType)));
                await FinishAsync(jobId, j => j.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow),
                    $"Job succeeded after {result.StepsCompleted} steps ({result.TokensSeen} tokens); {artifacts.Count} artifacts", "info", artifacts);
                break;
            case RunOutcome.Cancelled:
                await FinishAsync(jobId, MoveToCancelled, $"Job cancelled at step {result.StepsCompleted}; its last checkpoint is kept", "info");
                break;
            case RunOutcome.Completed or RunOutcome.NoSteps:
                await FinishAsync(jobId, j => j.Fail("no_steps", "Training ran zero optimizer steps: the training data produced no example with a scored token (check max_sequence_length and the data).", DateTimeOffset.UtcNow),
                    "Job failed: zero optimizer steps", "error");
                break;
            default:
                var reason = failure is null ? "unknown error" : $"{failure.GetType().Name}: {failure.Message}";
                logger.LogError(failure, "Job {JobId} failed", jobId);
                await FinishAsync(jobId, j => j.Fail("training_failed", reason, DateTimeOffset.UtcNow), $"Job failed: {reason}", "error");
                break;
        }
    }

    private static void MoveToCancelled(FineTuneJob job)
    {
        if (job.Status == JobStatus.Running) job.MoveTo(JobStatus.Cancelling, DateTimeOffset.UtcNow);
        job.MoveTo(JobStatus.Cancelled, DateTimeOffset.UtcNow);
    }

    /// <summary>Ends the job on a fresh row (heartbeats and API cancels change xmin), retrying on a concurrent update.</summary>
    private async Task FinishAsync(Guid jobId, Action<FineTuneJob> change, string message, string level, IReadOnlyList<Artifact>? artifacts = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
            var job = await db.Jobs.SingleAsync(j => j.Id == jobId);
            change(job);
            db.JobEvents.Add(JobEvent.Create(jobId, message, level: level));
            if (artifacts is not null)
            {
                db.Artifacts.RemoveRange(db.Artifacts.Where(a => a.JobId == jobId));
                db.Artifacts.AddRange(artifacts);
            }
            try
            {
                await db.SaveChangesAsync();
                return;
            }
            catch (DbUpdateConcurrencyException) when (attempt < 10)
            {
                await Task.Delay(50);
            }
        }
    }
}
