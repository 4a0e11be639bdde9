using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Takes a job for this worker exactly once. The row's xmin makes concurrent claims fail for all but one worker.
/// A running job is taken over only when its heartbeat is stale (its worker died) or it was ours before a restart.
/// </summary>
internal sealed class JobClaimer(LoraDbContext db, WorkerIdentity me, WorkerOptions options, ILogger<JobClaimer> logger)
{
    public async Task<FineTuneJob?> TryClaimAsync(Guid jobId, CancellationToken ct)
    {
        var job = await db.Jobs.SingleOrDefaultAsync(j => j.Id == jobId, ct);
        if (job is null)
        {
            logger.LogWarning("Job {JobId} does not exist; dropping it", jobId);
            return null;
        }
        var now = DateTimeOffset.UtcNow;
        switch (job.Status)
        {
            case var s when JobLifecycle.IsTerminal(s):
                logger.LogInformation("Job {JobId} is already {Status}", jobId, s);
                return null;
            case JobStatus.Cancelling:
                job.MoveTo(JobStatus.Cancelled, now);
                db.JobEvents.Add(JobEvent.Create(job.Id, "Job cancelled before training resumed"));
                await SaveOrLoseAsync(ct);
                return null;
            case JobStatus.Running when job.WorkerId != me.Name && job.HeartbeatAt > now - options.StaleAfter:
                logger.LogInformation("Job {JobId} is running on live worker {Worker}; not taking it", jobId, job.WorkerId);
                return null;
        }

        var resumed = job.Status == JobStatus.Running;
        var previous = job.WorkerId;
        if (resumed && job.Attempt >= options.MaxAttempts)
        {
            // A job that keeps killing its worker (native crash, out of memory) must not take every worker down in turn.
            job.Fail("worker_lost", $"The job's worker died {job.Attempt} times (last: {previous}); it is not resumed again. Check the worker logs; a smaller micro_batch_size or max_sequence_length may help.", now);
            db.JobEvents.Add(JobEvent.Create(job.Id, $"Giving up after {job.Attempt} attempts", level: "error"));
            await SaveOrLoseAsync(ct);
            return null;
        }
        job.MoveTo(JobStatus.Running, now);
        job.WorkerId = me.Name;
        job.Attempt++;
        job.HeartbeatAt = now;
        db.JobEvents.Add(JobEvent.Create(job.Id, resumed
            ? $"Worker {me.Name} took the job over from {previous} (attempt {job.Attempt})"
            : $"Worker {me.Name} started the job", new { worker = me.Name, device = me.Device, attempt = job.Attempt }));
        return await SaveOrLoseAsync(ct) ? job : null;
    }

    private async Task<bool> SaveOrLoseAsync(CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            logger.LogInformation("Another worker or a cancel changed the job first; leaving it");
            return false;
        }
    }
}
