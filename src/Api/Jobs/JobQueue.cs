using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Jobs;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Jobs;

/// <summary>Section "Jobs": which Hangfire queue new jobs go to ("cpu" for the embedded default, "gpu" on GPU hosts).</summary>
internal sealed record JobQueueOptions
{
    public const string Section = "Jobs";
    public string Queue { get; init; } = "cpu";
    /// <summary>Default for a job's max_attempts.</summary>
    public int MaxAttempts { get; init; } = JobDefaults.MaxAttempts;
}

/// <summary>Hands a stored job to the workers of its queue. Only a wake-up travels; the worker reads the job from its row.</summary>
internal sealed class JobQueue(JobWakeUps wakeUps, JobQueueOptions options, ILogger<JobQueue> logger)
{
    public string Queue => options.Queue;

    /// <summary>
    /// Wakes a worker for a job already saved as queued, and notes the wake-up on the row. A worker may claim the job the
    /// moment the wake-up exists, so the row is updated without the optimistic check, and a wake-up that cannot be
    /// queued is not an error: the reaper sends another for any job left waiting.
    /// </summary>
    public async Task WakeAsync(LoraDbContext db, FineTuneJob job, CancellationToken ct)
    {
        string queueJobId;
        try
        {
            queueJobId = wakeUps.WakeUp(job.Id, job.Queue);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Job {JobId}: the wake-up could not be queued ({Reason}); the reaper will send another", job.Id, e.Message);
            return;
        }
        db.Entry(job).State = EntityState.Detached;
        job.QueueJobId = queueJobId;
        await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(set => set.SetProperty(j => j.QueueJobId, queueJobId), ct);
        db.JobEvents.Add(JobEvent.Create(job.Id, "Job queued", new { queue = job.Queue, queue_job_id = queueJobId }));
        await db.SaveChangesAsync(ct);
    }
}
