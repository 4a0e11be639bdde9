using LoraService.Api.Auth;
using LoraService.Domain.Persistence;
using LoraService.Domain.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

/// <summary>A tenant's API keys (admin only): issue with an optional expiry, list with last use, revoke.</summary>
internal static class ApiKeysApi
{
    public static IEndpointRouteBuilder MapApiKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1/tenants/{tenantId:guid}/keys").WithTags("Tenants").RequireAuthorization(AuthPolicies.Admin);
        keys.MapPost("/", CreateKey).WithSummary("Issue another API key for a tenant (admin only), optionally expiring. The key is shown once.");
        keys.MapGet("/", ListKeys).WithSummary("A tenant's API keys with prefix, last use (to the minute), expiry and revocation (admin only); never the secret");
        keys.MapDelete("/{keyId:guid}", RevokeKey)
            .WithSummary("Revoke an API key (admin only): it answers 401 on every API instance within a second")
            .WithDescription("204, also when the key was already revoked; 404 for a key the tenant does not have.");
        return app;
    }

    public sealed record CreateKeyRequest(string? Name, DateTimeOffset? ExpiresAt);

    /// <summary>A newly issued key. <c>Key</c> is not stored and cannot be shown again.</summary>
    public sealed record IssuedKeyResponse(Guid TenantId, Guid KeyId, string Key, DateTimeOffset? ExpiresAt);

    public sealed record KeyResponse(Guid Id, string Name, string Prefix, bool IsAdmin, DateTimeOffset CreatedAt,
        DateTimeOffset? LastUsedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt);

    private static async Task<Results<Created<IssuedKeyResponse>, NotFound, ValidationProblem>> CreateKey(
        Guid tenantId, CreateKeyRequest request, LoraDbContext db, TimeProvider clock, CancellationToken ct)
    {
        if (request.Name is { Length: 0 or > 200 })
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["name must be 1 to 200 characters."] });
        if (request.ExpiresAt <= clock.GetUtcNow())
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["expires_at"] = ["expires_at must be in the future."] });
        if (!await db.Tenants.AnyAsync(t => t.Id == tenantId, ct)) return TypedResults.NotFound();
        var issued = Issue(db, tenantId, request.Name ?? "key", request.ExpiresAt);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/tenants/{tenantId}/keys", issued);
    }

    public static IssuedKeyResponse Issue(LoraDbContext db, Guid tenantId, string name, DateTimeOffset? expiresAt = null)
    {
        var key = ApiKeySecret.Generate();
        ApiKeySecret.TryGetPrefix(key, out var prefix);
        var row = db.ApiKeys.Add(new ApiKey { TenantId = tenantId, Name = name, Prefix = prefix, Hash = ApiKeySecret.Hash(key), ExpiresAt = expiresAt }).Entity;
        return new IssuedKeyResponse(tenantId, row.Id, key, expiresAt);
    }

    private static async Task<Results<Ok<IReadOnlyList<KeyResponse>>, NotFound>> ListKeys(Guid tenantId, LoraDbContext db, CancellationToken ct)
    {
        if (!await db.Tenants.AnyAsync(t => t.Id == tenantId, ct)) return TypedResults.NotFound();
        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.TenantId == tenantId).OrderBy(k => k.CreatedAt)
            .Select(k => new KeyResponse(k.Id, k.Name, k.Prefix, k.IsAdmin, k.CreatedAt, k.LastUsedAt, k.ExpiresAt, k.RevokedAt))
            .ToListAsync(ct);
        return TypedResults.Ok<IReadOnlyList<KeyResponse>>(keys);
    }

    private static async Task<Results<NoContent, NotFound>> RevokeKey(
        Guid tenantId, Guid keyId, LoraDbContext db, ApiKeyCache cache, TimeProvider clock, CancellationToken ct)
    {
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == keyId && k.TenantId == tenantId, ct);
        if (key is null) return TypedResults.NotFound();
        key.RevokedAt ??= clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        cache.Evict(keyId);
        await ApiKeyRevocations.NotifyAsync(db, keyId, ct);
        return TypedResults.NoContent();
    }
}
