using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Quotas;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LoraService.Api.Endpoints;

/// <summary>GET /me/usage: what the calling tenant stores and runs, against its quotas.</summary>
internal static class UsageApi
{
    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/me/usage", GetUsage).WithTags("Tenants")
            .WithSummary("Bytes stored (datasets, job outputs, checkpoints), running and queued jobs, and the quotas (null = unlimited)");
        return app;
    }

    public sealed record StorageUsage(long DatasetsBytes, long JobOutputsBytes, long CheckpointsBytes, long TotalBytes);

    public sealed record JobUsage(int Running, int Queued);

    public sealed record UsageResponse(StorageUsage Storage, JobUsage Jobs, TenantQuota Quotas);

    private static async Task<Ok<UsageResponse>> GetUsage(ClaimsPrincipal user, LoraDbContext db, QuotaOptions quotas, CancellationToken ct)
    {
        var usage = await TenantUsage.ReadAsync(db, user.TenantId(), ct);
        return TypedResults.Ok(new UsageResponse(
            new StorageUsage(usage.DatasetBytes, usage.JobOutputBytes, usage.CheckpointBytes, usage.StorageBytes),
            new JobUsage(usage.RunningJobs, usage.QueuedJobs),
            quotas.For(user.TenantId())));
    }
}
