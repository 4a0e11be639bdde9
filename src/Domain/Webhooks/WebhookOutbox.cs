using LoraService.Domain.Jobs;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace LoraService.Domain.Webhooks;

/// <summary>
/// Adds an outbox row for every job status change a SaveChanges is about to write, so the event commits (or rolls back)
/// with the change itself, whichever code path made it: a worker's claim or end, the reaper, a cancel, a retry. A row
/// inserted by the migration's trigger also sends NOTIFY webhook_events at commit, which wakes the dispatchers.
/// </summary>
public static class WebhookOutbox
{
    public const string Channel = "webhook_events";

    public static void AddStatusChangeEvents(ChangeTracker tracker)
    {
        var events = new List<WebhookEvent>();
        foreach (var entry in tracker.Entries<FineTuneJob>())
        {
            if (entry.State != Microsoft.EntityFrameworkCore.EntityState.Modified) continue;
            var status = entry.Property(j => j.Status);
            if (!status.IsModified || Equals(status.OriginalValue, status.CurrentValue)) continue;
            if (WebhookEventTypes.ForStatus(entry.Entity.Status) is not { } type) continue;
            events.Add(For(entry.Entity, type));
        }
        if (events.Count > 0) tracker.Context.AddRange(events);
    }

    public static WebhookEvent For(FineTuneJob job, string type, string? details = null) => new()
    {
        TenantId = job.TenantId,
        JobId = job.Id,
        Type = type,
        JobStatus = job.Status.ToString(),
        Details = details,
    };
}
