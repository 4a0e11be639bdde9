using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Jobs;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Jobs;

internal enum CancelOutcome { NotFound, Finished, Accepted }

/// <summary>The one cancel of both APIs: a queued job is cancelled at once, a running one is asked to stop after its current step.</summary>
internal static class JobCancellation
{
    public static async Task<(CancelOutcome Outcome, FineTuneJob? Job)> CancelAsync(Guid id, Guid tenantId, LoraDbContext db, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var job = await db.Jobs.SingleOrDefaultAsync(j => j.Id == id && j.TenantId == tenantId, ct);
            if (job is null) return (CancelOutcome.NotFound, null);
            if (JobLifecycle.IsTerminal(job.Status) || job.Status == JobStatus.Cancelling)
                return (job.Status is JobStatus.Cancelled or JobStatus.Cancelling ? CancelOutcome.Accepted : CancelOutcome.Finished, job);

            job.MoveTo(job.Status == JobStatus.Queued ? JobStatus.Cancelled : JobStatus.Cancelling, DateTimeOffset.UtcNow);
            db.JobEvents.Add(JobEvent.Create(job.Id, job.Status == JobStatus.Cancelled ? "Job cancelled before it started" : "Cancel requested"));
            try
            {
                await db.SaveChangesAsync(ct);
                // Tell the running attempt now (LISTEN job_cancel on the workers) rather than at its next heartbeat.
                if (job.Status == JobStatus.Cancelling)
                    await CancelNotifications.NotifyAsync(db, job.Id, ct);
                return (CancelOutcome.Accepted, job);
            }
            catch (DbUpdateConcurrencyException) when (attempt < 20)
            {
                // The worker updated the row meanwhile (progress, heartbeat); read it again.
                db.ChangeTracker.Clear();
            }
        }
    }
}
