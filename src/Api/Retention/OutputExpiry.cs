using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Retention;

/// <summary>
/// Deletes the files (work and output folders), artifact rows and checkpoint rows of jobs that finished more than
/// <see cref="RetentionOptions.ExpireOutputsAfterDays"/> ago; the job row, its events and metrics stay. Every API
/// instance runs it; a sweep is idempotent.
/// </summary>
internal sealed class OutputExpiry(IServiceScopeFactory scopes, IArtifactStore store, RetentionOptions options, ILogger<OutputExpiry> logger)
    : BackgroundService
{
    private const int Batch = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.ExpireOutputsAfterDays <= 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.SweepSeconds));
        do
        {
            try
            {
                var expired = await SweepAsync(DateTimeOffset.UtcNow, stoppingToken);
                if (expired > 0) logger.LogInformation("Expired the outputs of {Count} finished jobs", expired);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Output expiry failed; it runs again in {Seconds} s", options.SweepSeconds);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct)
    {
        var cutoff = now - TimeSpan.FromDays(options.ExpireOutputsAfterDays);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        var expired = 0;
        while (true)
        {
            var ids = await db.Jobs
                .Where(j => (j.Status == JobStatus.Succeeded || j.Status == JobStatus.Failed || j.Status == JobStatus.Cancelled) && j.FinishedAt < cutoff &&
                    (db.Artifacts.Any(a => a.JobId == j.Id) || db.Checkpoints.Any(c => c.JobId == j.Id)))
                .OrderBy(j => j.FinishedAt).Select(j => j.Id).Take(Batch).ToListAsync(ct);
            foreach (var id in ids)
                if (await ExpireAsync(db, id, cutoff, ct)) expired++;
            if (ids.Count < Batch) return expired;
        }
    }

    private async Task<bool> ExpireAsync(LoraDbContext db, Guid id, DateTimeOffset cutoff, CancellationToken ct)
    {
        // The row lock holds off a retry of a failed job until its files are gone, so no new attempt writes among them.
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var locked = await db.Jobs.FromSqlRaw(
            "SELECT *, xmin FROM jobs WHERE id = {0} AND status IN ('Succeeded', 'Failed', 'Cancelled') AND finished_at < {1} FOR UPDATE", id, cutoff)
            .AsNoTracking().AnyAsync(ct);
        if (!locked) return false;
        await db.Artifacts.Where(a => a.JobId == id).ExecuteDeleteAsync(ct);
        await db.Checkpoints.Where(c => c.JobId == id).ExecuteDeleteAsync(ct);
        db.JobEvents.Add(JobEvent.Create(id, $"Outputs and checkpoints deleted {options.ExpireOutputsAfterDays} days after the job finished (Retention:ExpireOutputsAfterDays)",
            type: "outputs_expired"));
        await db.SaveChangesAsync(ct);
        JobFiles.DeleteAll(store, id);
        await transaction.CommitAsync(ct);
        db.ChangeTracker.Clear();
        return true;
    }
}
