using LoraService.Api.Observability;
using LoraService.Domain.Persistence;
using LoraService.Domain.Webhooks;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Webhooks;

/// <summary>
/// Turns waiting outbox rows into one pending delivery per subscribed, enabled endpoint of the event's tenant, and
/// stores each event's payload. Rows are taken with SKIP LOCKED, so API instances share the work without doubling it.
/// </summary>
internal sealed class WebhookFanOut(IServiceScopeFactory scopes)
{
    public const int Batch = 500;

    /// <summary>How many events it fanned out.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var events = await db.WebhookEvents.FromSqlRaw(
            """
            SELECT * FROM webhook_events WHERE dispatched_at IS NULL
            ORDER BY created_at, id LIMIT {0}
            FOR UPDATE SKIP LOCKED
            """, Batch).ToListAsync(ct);
        if (events.Count == 0) return 0;

        var tenants = events.Select(e => e.TenantId).Distinct().ToList();
        var endpoints = await db.WebhookEndpoints.AsNoTracking()
            .Where(e => tenants.Contains(e.TenantId) && e.DisabledAt == null).ToListAsync(ct);
        var payloads = await WebhookPayloads.RenderAsync(db, events, ct);
        var now = DateTimeOffset.UtcNow;
        foreach (var e in events)
        {
            e.Payload = payloads[e.Id];
            e.DispatchedAt = now;
            foreach (var endpoint in endpoints.Where(p => p.TenantId == e.TenantId && p.Events.Contains(e.Type)))
                db.WebhookDeliveries.Add(new WebhookDelivery { EndpointId = endpoint.Id, EventId = e.Id, EventType = e.Type, NextAttemptAt = now });
            WebhookMetrics.Events.Add(1, new KeyValuePair<string, object?>("type", e.Type));
        }
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return events.Count;
    }
}
