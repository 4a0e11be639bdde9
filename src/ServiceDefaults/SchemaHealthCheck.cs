using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LoraService.ServiceDefaults;

/// <summary>
/// Part of /health/ready: unhealthy while the database has migrations this build expects and has not applied (a
/// deployment whose one-shot migration has not finished yet). Once current it stays so: migrations never come back.
/// </summary>
internal sealed class SchemaHealthCheck(LoraDbContext db) : IHealthCheck
{
    private static volatile bool _current;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_current) return HealthCheckResult.Healthy();
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count > 0)
            return HealthCheckResult.Unhealthy($"{pending.Count} migration(s) not applied yet (run the API with --migrate-only): {string.Join(", ", pending)}");
        _current = true;
        return HealthCheckResult.Healthy();
    }
}
