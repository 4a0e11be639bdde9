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
        return app;
    }

    public sealed record MeResponse(Guid TenantId, string TenantName, Guid KeyId, bool IsAdmin);

    public sealed record CreateTenantRequest(string Name);

    private static async Task<Ok<MeResponse>> GetMe(ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var tenant = await db.Tenants.AsNoTracking().SingleAsync(t => t.Id == tenantId, ct);
        return TypedResults.Ok(new MeResponse(tenantId, tenant.Name, Guid.Parse(user.FindFirstValue(ApiKeyClaims.KeyId)!), user.IsAdmin()));
    }

    private static async Task<Results<Created<ApiKeysApi.IssuedKeyResponse>, ValidationProblem, ProblemHttpResult>> CreateTenant(
        CreateTenantRequest request, LoraDbContext db, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 200)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["name must be 1 to 200 characters."] });
        if (await db.Tenants.AnyAsync(t => t.Name == request.Name, ct))
            return DuplicateName(request.Name);

        var tenant = db.Tenants.Add(new Tenant { Name = request.Name }).Entity;
        var issued = ApiKeysApi.Issue(db, tenant.Id, "default");
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return DuplicateName(request.Name);
        }
        return TypedResults.Created($"/api/v1/tenants/{tenant.Id}", issued);
    }

    private static ProblemHttpResult DuplicateName(string name) =>
        ApiProblems.Conflict("The tenant name is taken.", $"A tenant named '{name}' exists; tenant names are unique.");
}
