using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;

namespace LoraService.Api.Jobs;

/// <summary>A checked, resolved spec becomes a queued job row and its first event (both APIs); the caller saves and wakes the queue.</summary>
internal static class JobSubmission
{
    public static FineTuneJob Add(LoraDbContext db, Guid tenantId, JobSpec resolved, string? idempotencyKey, string queue)
    {
        var job = new FineTuneJob { TenantId = tenantId, Spec = resolved, Name = resolved.Name, Tags = [.. resolved.Tags], IdempotencyKey = idempotencyKey, Queue = queue };
        db.Jobs.Add(job);
        db.JobEvents.Add(JobEvent.Create(job.Id, "Job created", new { queue }));
        return job;
    }
}
