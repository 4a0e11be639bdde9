using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Domain.Persistence;
using LoraService.Domain.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

/// <summary>Who am I, and (admins) tenants with their keys.</summary>
internal static class IdentityApi
{
    public static IEndpointRouteBuilder MapIdentityApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Tenants");
        api.MapGet("/me", GetMe).WithSummary("The tenant and key behind the calling API key.");
        var admin = api.MapGroup("/tenants").RequireAuthorization(AuthPolicies.Admin);
        admin.MapPost("/", CreateTenant).WithSummary("Create a tenant and its first API key (admin only). The key is shown once.");
        admin.MapPost("/{tenantId:guid}/keys", CreateKey).WithSummary("Issue another API key for a tenant (admin only). The key is shown once.");
        return app;
    }

    public sealed record MeResponse(Guid TenantId, string TenantName, Guid KeyId, bool IsAdmin);

    public sealed record CreateTenantRequest(string Name);

    public sealed record CreateKeyRequest(string? Name);

    /// <summary>A newly issued key. <c>Key</c> is not stored and cannot be shown again.</summary>
    public sealed record IssuedKeyResponse(Guid TenantId, Guid KeyId, string Key);

    private static async Task<Ok<MeResponse>> GetMe(ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var tenant = await db.Tenants.AsNoTracking().SingleAsync(t => t.Id == tenantId, ct);
        return TypedResults.Ok(new MeResponse(tenantId, tenant.Name, Guid.Parse(user.FindFirstValue(ApiKeyClaims.KeyId)!), user.IsAdmin()));
    }

    private static async Task<Results<Created<IssuedKeyResponse>, ValidationProblem, Conflict<string>>> CreateTenant(
        CreateTenantRequest request, LoraDbContext db, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 200)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["name must be 1 to 200 characters."] });
        if (await db.Tenants.AnyAsync(t => t.Name == request.Name, ct))
            return TypedResults.Conflict($"A tenant named '{request.Name}' exists.");

        var tenant = db.Tenants.Add(new Tenant { Name = request.Name }).Entity;
        var issued = Issue(db, tenant.Id, "default");
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/tenants/{tenant.Id}", issued);
    }

    private static async Task<Results<Created<IssuedKeyResponse>, NotFound>> CreateKey(
        Guid tenantId, CreateKeyRequest request, LoraDbContext db, CancellationToken ct)
    {
        if (!await db.Tenants.AnyAsync(t => t.Id == tenantId, ct)) return TypedResults.NotFound();
        var issued = Issue(db, tenantId, request.Name ?? "key");
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/tenants/{tenantId}", issued);
    }

    private static IssuedKeyResponse Issue(LoraDbContext db, Guid tenantId, string name)
    {
        var key = ApiKeySecret.Generate();
        ApiKeySecret.TryGetPrefix(key, out var prefix);
        var row = db.ApiKeys.Add(new ApiKey { TenantId = tenantId, Name = name, Prefix = prefix, Hash = ApiKeySecret.Hash(key) }).Entity;
        return new IssuedKeyResponse(tenantId, row.Id, key);
    }
}
