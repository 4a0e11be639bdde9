using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace LoraService.Api.Jobs;

/// <summary>A job's tenant never changes, so the check is cached: dashboards poll metrics many times a second.</summary>
internal static class JobOwnership
{
    public static async Task<bool> IsOwnedAsync(Guid jobId, ClaimsPrincipal user, LoraDbContext db, IMemoryCache cache, CancellationToken ct)
    {
        var key = "job-tenant:" + jobId;
        if (!cache.TryGetValue(key, out Guid tenant))
        {
            tenant = await db.Jobs.Where(j => j.Id == jobId).Select(j => j.TenantId).SingleOrDefaultAsync(ct);
            if (tenant == Guid.Empty) return false;
            cache.Set(key, tenant, TimeSpan.FromMinutes(10));
        }
        return tenant == user.TenantId();
    }
}
