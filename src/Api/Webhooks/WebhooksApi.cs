using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Domain.Persistence;
using LoraService.Domain.Webhooks;
using LoraService.ServiceDefaults.Notifications;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Webhooks;

/// <summary>A tenant's webhook endpoints: register (the secret is shown once), list, read, delete, rotate the secret,
/// re-enable; each endpoint's delivery log and manual redelivery.</summary>
internal static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var hooks = app.MapGroup("/api/v1/webhooks").WithTags("Webhooks");
        hooks.MapPost("/", Create)
            .WithSummary("Register an endpoint for job events; the signing secret (whsec_...) is shown once")
            .WithDescription("events: " + string.Join(", ", WebhookEventTypes.All) + ". Only https URLs to public addresses unless the operator " +
                "allows http (Webhooks__AllowInsecureUrls) or private addresses (Webhooks__AllowPrivateAddresses).");
        hooks.MapGet("/", List).WithSummary("Your webhook endpoints (never their secrets)");
        hooks.MapGet("/{id:guid}", Get).WithSummary("One webhook endpoint");
        hooks.MapDelete("/{id:guid}", Delete).WithSummary("Delete an endpoint with its delivery log; nothing more is sent to it");
        hooks.MapPost("/{id:guid}/rotate-secret", RotateSecret)
            .WithSummary("Replace the signing secret; the new one is shown once and signs every delivery from now on, retries included");
        hooks.MapPost("/{id:guid}/enable", Enable).WithSummary("Turn a disabled endpoint back on (new events only; redeliver abandoned ones by hand)");
        hooks.MapGet("/{id:guid}/deliveries", Deliveries)
            .WithSummary("The endpoint's delivery log, newest first: status, attempts, last response code, latency, next attempt")
            .WithDescription("status: pending, succeeded, failed (retry window spent), abandoned (endpoint disabled) or notice (an entry about the endpoint). " +
                "Page with after=<last id>; filter with status=.");
        hooks.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/redeliver", Redeliver)
            .WithSummary("Send a delivery's event again now, as a new delivery with the same webhook-id");
        return app;
    }

    public sealed record CreateWebhookRequest(string? Url, IReadOnlyList<string>? Events, string? Description);

    public sealed record WebhookResponse(Guid Id, string Url, IReadOnlyList<string> Events, string? Description, DateTimeOffset CreatedAt,
        bool Enabled, DateTimeOffset? DisabledAt, string? DisabledReason, DateTimeOffset? FailingSince)
    {
        public static WebhookResponse From(WebhookEndpoint e) =>
            new(e.Id, e.Url, e.Events, e.Description, e.CreatedAt, e.DisabledAt is null, e.DisabledAt, e.DisabledReason, e.FailingSince);
    }

    /// <summary>An endpoint with its secret, shown only by create and rotate-secret.</summary>
    public sealed record WebhookWithSecretResponse(Guid Id, string Url, IReadOnlyList<string> Events, string? Description, DateTimeOffset CreatedAt, string Secret);

    public sealed record DeliveryResponse(Guid Id, string? EventId, string EventType, string Status, int Attempts, DateTimeOffset CreatedAt,
        DateTimeOffset? LastAttemptAt, int? LastStatusCode, int? LastLatencyMs, string? LastError, string? ResponsePrefix, DateTimeOffset? NextAttemptAt)
    {
        public static DeliveryResponse From(WebhookDelivery d) => new(d.Id, d.EventId is { } e ? WebhookPayloads.EventId(e) : null, d.EventType,
            d.Status, d.Attempts, d.CreatedAt, d.LastAttemptAt, d.LastStatusCode, d.LastLatencyMs, d.LastError, d.ResponsePrefix, d.NextAttemptAt);
    }

    public sealed record DeliveryPage(IReadOnlyList<DeliveryResponse> Data, bool HasMore, Guid? NextAfter);

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });

    private static async Task<Results<Created<WebhookWithSecretResponse>, ValidationProblem>> Create(
        CreateWebhookRequest request, ClaimsPrincipal user, LoraDbContext db, WebhookOptions options, CancellationToken ct)
    {
        if (await WebhookAddresses.CheckUrlAsync(request.Url, options, ct) is { } urlError) return Invalid("url", urlError);
        if (request.Events is not { Count: > 0 } events)
            return Invalid("events", "events must list at least one of: " + string.Join(", ", WebhookEventTypes.All) + ".");
        for (var i = 0; i < events.Count; i++)
            if (!WebhookEventTypes.All.Contains(events[i]))
                return Invalid($"events[{i}]", $"'{events[i]}' is not an event; use: {string.Join(", ", WebhookEventTypes.All)}.");
        if (request.Description is { Length: > 500 }) return Invalid("description", "description must be at most 500 characters.");

        var endpoint = new WebhookEndpoint
        {
            TenantId = user.TenantId(), Url = request.Url!, Events = [.. events.Distinct()], Description = request.Description, Secret = WebhookEndpoint.NewSecret(),
        };
        db.WebhookEndpoints.Add(endpoint);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/webhooks/{endpoint.Id}", WithSecret(endpoint));
    }

    private static WebhookWithSecretResponse WithSecret(WebhookEndpoint e) => new(e.Id, e.Url, e.Events, e.Description, e.CreatedAt, e.Secret);

    private static async Task<Ok<IReadOnlyList<WebhookResponse>>> List(ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        var tenant = user.TenantId();
        var endpoints = await db.WebhookEndpoints.AsNoTracking().Where(e => e.TenantId == tenant).OrderByDescending(e => e.CreatedAt).ToListAsync(ct);
        return TypedResults.Ok<IReadOnlyList<WebhookResponse>>([.. endpoints.Select(WebhookResponse.From)]);
    }

    private static Task<WebhookEndpoint?> FindAsync(Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        var tenant = user.TenantId();
        return db.WebhookEndpoints.SingleOrDefaultAsync(e => e.Id == id && e.TenantId == tenant, ct);
    }

    private static async Task<Results<Ok<WebhookResponse>, NotFound>> Get(Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct) =>
        await FindAsync(id, user, db, ct) is { } endpoint ? TypedResults.Ok(WebhookResponse.From(endpoint)) : TypedResults.NotFound();

    private static async Task<Results<NoContent, NotFound>> Delete(Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (await FindAsync(id, user, db, ct) is not { } endpoint) return TypedResults.NotFound();
        db.WebhookEndpoints.Remove(endpoint);
        await db.SaveChangesAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<WebhookWithSecretResponse>, NotFound>> RotateSecret(Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (await FindAsync(id, user, db, ct) is not { } endpoint) return TypedResults.NotFound();
        endpoint.Secret = WebhookEndpoint.NewSecret();
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(WithSecret(endpoint));
    }

    private static async Task<Results<Ok<WebhookResponse>, NotFound>> Enable(Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (await FindAsync(id, user, db, ct) is not { } endpoint) return TypedResults.NotFound();
        endpoint.DisabledAt = null;
        endpoint.DisabledReason = null;
        endpoint.FailingSince = null;
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(WebhookResponse.From(endpoint));
    }

    private static async Task<Results<Ok<DeliveryPage>, NotFound, ValidationProblem>> Deliveries(
        Guid id, Guid? after, int? limit, string? status, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (limit is not (null or (>= 1 and <= 100))) return Invalid("limit", "limit must be between 1 and 100.");
        string[] statuses = [WebhookDeliveryStatus.Pending, WebhookDeliveryStatus.Succeeded, WebhookDeliveryStatus.Failed, WebhookDeliveryStatus.Abandoned, WebhookDeliveryStatus.Notice];
        if (status is not null && !statuses.Contains(status)) return Invalid("status", "status must be one of: " + string.Join(", ", statuses) + ".");
        if (await FindAsync(id, user, db, ct) is null) return TypedResults.NotFound();
        var query = db.WebhookDeliveries.AsNoTracking().Where(d => d.EndpointId == id);
        if (status is not null) query = query.Where(d => d.Status == status);
        // Ids are version-7 GUIDs: their order is their creation order.
        if (after is { } cursor) query = query.Where(d => d.Id.CompareTo(cursor) < 0);
        var take = limit ?? 20;
        var rows = await query.OrderByDescending(d => d.Id).Take(take + 1).ToListAsync(ct);
        var page = rows.Take(take).ToList();
        return TypedResults.Ok(new DeliveryPage([.. page.Select(DeliveryResponse.From)], rows.Count > take, rows.Count > take ? page[^1].Id : null));
    }

    private static async Task<Results<Accepted<DeliveryResponse>, NotFound, ProblemHttpResult>> Redeliver(
        Guid id, Guid deliveryId, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (await FindAsync(id, user, db, ct) is not { } endpoint) return TypedResults.NotFound();
        var original = await db.WebhookDeliveries.AsNoTracking().SingleOrDefaultAsync(d => d.Id == deliveryId && d.EndpointId == id, ct);
        if (original is null) return TypedResults.NotFound();
        if (original.EventId is not { } eventId)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Nothing to redeliver", detail: "This log entry is a notice, not a delivery.");
        if (endpoint.DisabledAt is not null)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Endpoint disabled",
                detail: $"The endpoint is disabled ({endpoint.DisabledReason}); POST /api/v1/webhooks/{id}/enable first.");
        var again = new WebhookDelivery { EndpointId = id, EventId = eventId, EventType = original.EventType };
        db.WebhookDeliveries.Add(again);
        await db.SaveChangesAsync(ct);
        await PgNotify.SendAsync(db, WebhookOutbox.Channel, "", ct);
        return TypedResults.Accepted($"/api/v1/webhooks/{id}/deliveries", DeliveryResponse.From(again));
    }
}
