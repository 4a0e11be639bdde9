using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Quotas;

/// <summary>What a tenant holds: bytes by kind (from the rows that describe the files) and its unfinished jobs.</summary>
internal sealed record TenantUsage(long DatasetBytes, long JobOutputBytes, long CheckpointBytes, int RunningJobs, int QueuedJobs)
{
    public long StorageBytes => DatasetBytes + JobOutputBytes + CheckpointBytes;

    public static async Task<TenantUsage> ReadAsync(LoraDbContext db, Guid tenantId, CancellationToken ct)
    {
        var datasets = await db.Datasets.Where(d => d.TenantId == tenantId).SumAsync(d => (long?)d.Bytes, ct) ?? 0;
        var outputs = await db.Artifacts.Where(a => a.TenantId == tenantId).SumAsync(a => (long?)a.Bytes, ct) ?? 0;
        var checkpoints = await db.Checkpoints.Where(c => db.Jobs.Any(j => j.Id == c.JobId && j.TenantId == tenantId)).SumAsync(c => (long?)c.Bytes, ct) ?? 0;
        var jobs = await db.Jobs.Where(j => j.TenantId == tenantId && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running || j.Status == JobStatus.Cancelling))
            .GroupBy(j => j.Status == JobStatus.Queued).Select(g => new { Queued = g.Key, Count = g.Count() }).ToListAsync(ct);
        return new TenantUsage(datasets, outputs, checkpoints,
            jobs.Where(g => !g.Queued).Sum(g => g.Count), jobs.Where(g => g.Queued).Sum(g => g.Count));
    }
}
