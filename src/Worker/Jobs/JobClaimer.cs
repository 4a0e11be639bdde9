using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Takes the oldest queued job of this worker's queues as a new attempt under a lease. The row is locked with
/// SKIP LOCKED, so concurrent workers each get a different job and a cancel waits for the claim to commit (then sees
/// <c>running</c> and asks the attempt to stop). A job that is not queued is never touched: held jobs belong to their
/// lease holder, stranded ones to the reaper.
/// </summary>
internal sealed class JobClaimer(LoraDbContext db, WorkerIdentity me, WorkerOptions options)
{
    public async Task<FineTuneJob?> TryClaimNextAsync(IReadOnlyList<string> queues, CancellationToken ct)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var job = (await db.Jobs.FromSqlRaw(
            """
            SELECT *, xmin FROM jobs WHERE status = 'Queued' AND queue = ANY(@queues)
            ORDER BY created_at, id LIMIT 1
            FOR UPDATE SKIP LOCKED
            """, new NpgsqlParameter("queues", queues.ToArray())).ToListAsync(ct)).SingleOrDefault();
        if (job is null) return null;

        var now = DateTimeOffset.UtcNow;
        var previous = job.WorkerId;
        job.Claim(me.Name, options.Lease, now);
        db.JobAttempts.Add(new JobAttempt { JobId = job.Id, Attempt = job.Attempt, WorkerId = me.Name, StartedAt = now });
        db.JobEvents.Add(JobEvent.Create(job.Id, job.Attempt == 1
                ? $"Worker {me.Name} started the job"
                : $"Worker {me.Name} took the job over from {previous ?? "the queue"} (attempt {job.Attempt}); it resumes from its last checkpoint",
            new { worker = me.Name, device = me.Device, attempt = job.Attempt }, type: "started"));
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return job;
    }
}
