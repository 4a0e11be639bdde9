using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LoraService.ServiceDefaults.Jobs;

/// <summary>
/// Makes whole the jobs nobody will move again, on every API and worker instance (idempotent: rows are locked with
/// SKIP LOCKED, so instances never step on each other). A held job whose lease expired lost its worker: a cancel in
/// progress ends <c>cancelled</c>, otherwise the job goes back to the queue to resume from its checkpoint, or fails
/// (<c>worker_lost</c>) once the job's <c>max_attempts</c> attempts ended abnormally. A queued job that waited
/// a while gets a fresh wake-up, in case its queue entry was lost.
/// </summary>
public sealed class JobReaper(IServiceScopeFactory scopes, JobWakeUps wakeUps, ReaperOptions options, ILogger<JobReaper> logger)
    : BackgroundService
{
    private const int Batch = 50;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Interval);
        string? lastFailure = null;
        do
        {
            try
            {
                await ReapOnceAsync(stoppingToken);
                lastFailure = null;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database may be restarting or not migrated yet; say so once, not every few seconds.
                if (e.Message != lastFailure) logger.LogWarning("Reaper pass failed: {Reason}", e.Message);
                lastFailure = e.Message;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass; returns how many jobs it changed.</summary>
    public async Task<int> ReapOnceAsync(CancellationToken ct)
    {
        var changed = await ReclaimExpiredLeasesAsync(ct);
        changed += await RewakeWaitingJobsAsync(ct);
        return changed;
    }

    private async Task<int> ReclaimExpiredLeasesAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var expired = await db.Jobs.FromSqlRaw(
            """
            SELECT *, xmin FROM jobs
            WHERE status IN ('Running', 'Cancelling') AND (lease_expires_at IS NULL OR lease_expires_at < now())
            ORDER BY lease_expires_at NULLS FIRST LIMIT {0}
            FOR UPDATE SKIP LOCKED
            """, Batch).ToListAsync(ct);
        if (expired.Count == 0) return 0;

        var now = DateTimeOffset.UtcNow;
        var requeued = new List<FineTuneJob>();
        foreach (var job in expired)
        {
            var holder = job.WorkerId ?? "(none)";
            var attempt = await db.JobAttempts.SingleOrDefaultAsync(a => a.JobId == job.Id && a.Attempt == job.Attempt, ct);
            attempt?.End("lost", $"lease expired at {job.LeaseExpiresAt:O}", now);
            if (job.Status == JobStatus.Cancelling)
            {
                job.MoveTo(JobStatus.Cancelled, now);
                db.JobEvents.Add(JobEvent.Create(job.Id, $"Job cancelled: worker {holder} stopped answering before it finished the cancel",
                    new { worker = holder, attempt = job.Attempt }, type: "cancelled"));
                continue;
            }
            var lostAttempt = job.Attempt;
            if (!job.EndAbnormalAttempt("worker_lost", times => $"The job's worker stopped answering {times} times (last: {holder}, attempt {lostAttempt}); " +
                    "it is not resumed again. Check the worker logs; POST /retry resumes it from its last checkpoint.", now))
            {
                db.JobEvents.Add(JobEvent.Create(job.Id, $"Giving up after {job.FailedAttempts} lost attempts", level: "error", type: "failed"));
                continue;
            }
            requeued.Add(job);
            db.JobEvents.Add(JobEvent.Create(job.Id, $"Worker {holder} stopped answering (lease expired); the job goes back to the queue and resumes from its last checkpoint",
                new { worker = holder, attempt = job.Attempt, failed_attempts = job.FailedAttempts }, level: "warning", type: "lease_expired"));
        }
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        foreach (var job in requeued) wakeUps.WakeUp(job.Id, job.Queue);
        logger.LogWarning("Reaper: {Count} job(s) had an expired lease: {Jobs}", expired.Count, string.Join(", ", expired.Select(j => $"{j.Id} → {j.Status}")));
        return expired.Count;
    }

    private async Task<int> RewakeWaitingJobsAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var seconds = options.Rewake.TotalSeconds;
        var waiting = await db.Jobs.FromSqlRaw(
            """
            SELECT *, xmin FROM jobs
            WHERE status = 'Queued' AND queued_at < now() - make_interval(secs => {0})
              AND (woken_at IS NULL OR woken_at < now() - make_interval(secs => {0}))
            ORDER BY queued_at LIMIT {1}
            FOR UPDATE SKIP LOCKED
            """, seconds, Batch).ToListAsync(ct);
        if (waiting.Count == 0) return 0;
        foreach (var job in waiting) job.WokenAt = DateTimeOffset.UtcNow;
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        foreach (var job in waiting) wakeUps.WakeUp(job.Id, job.Queue);
        logger.LogInformation("Reaper: sent {Count} wake-up(s) for jobs waiting in the queue", waiting.Count);
        return waiting.Count;
    }
}
