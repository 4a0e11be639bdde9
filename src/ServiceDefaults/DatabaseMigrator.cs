using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LoraService.ServiceDefaults;

/// <summary>
/// Applies pending EF Core migrations before the host serves requests when <see cref="LoraOptions.MigrateOnStartup"/> is
/// on (EF takes a database lock, so concurrent hosts are safe). Deployments turn it off and run <see cref="MigrateAsync"/>
/// once, as a step of its own (the API's <c>--migrate-only</c>).
/// </summary>
public sealed class DatabaseMigrator(IServiceProvider services, LoraOptions options, ILogger<DatabaseMigrator> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        options.MigrateOnStartup ? MigrateAsync(services, logger, cancellationToken) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static async Task MigrateAsync(IServiceProvider services, ILogger logger, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count == 0)
        {
            logger.LogInformation("The database schema is current");
            return;
        }
        logger.LogInformation("Applying {Count} migration(s): {Migrations}", pending.Count, pending);
        await db.Database.MigrateAsync(cancellationToken);
    }
}
