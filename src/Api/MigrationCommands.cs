using Hangfire;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.Api;

/// <summary>
/// One-shot runs of the API binary for deployments that migrate as a step of their own (a compose service, a Kubernetes
/// Job) and start the API replicas with <c>Lora__MigrateOnStartup=false</c>:
/// <c>--migrate-only</c> applies the EF Core migrations and creates the Hangfire schema, then exits (0 on success);
/// <c>--wait-for-migrations</c> applies nothing and exits 0 once the database is reachable and has no pending migration
/// (an init container, so a replica does not start on an old schema).
/// </summary>
internal static class MigrationCommands
{
    public const string MigrateFlag = "--migrate-only";
    public const string WaitFlag = "--wait-for-migrations";
    private static readonly TimeSpan WaitInterval = TimeSpan.FromSeconds(2);

    /// <summary>The flag among <paramref name="args"/>, if any; <paramref name="rest"/> is the other arguments.</summary>
    public static string? Requested(string[] args, out string[] rest)
    {
        var flag = args.FirstOrDefault(a => a is MigrateFlag or WaitFlag);
        rest = args.Where(a => a is not (MigrateFlag or WaitFlag)).ToArray();
        return flag;
    }

    public static async Task RunAsync(WebApplication app, string flag)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MigrationCommands).FullName!);
        if (flag == WaitFlag)
        {
            await WaitAsync(app.Services, logger);
            return;
        }
        await DatabaseMigrator.MigrateAsync(app.Services, logger, CancellationToken.None);
        // Hangfire.PostgreSql creates or upgrades its schema when the storage is built.
        _ = app.Services.GetRequiredService<JobStorage>();
        logger.LogInformation("Migrations applied; exiting ({Flag})", MigrateFlag);
    }

    private static async Task WaitAsync(IServiceProvider services, ILogger logger)
    {
        while (true)
        {
            try
            {
                await using var scope = services.CreateAsyncScope();
                var pending = (await scope.ServiceProvider.GetRequiredService<LoraDbContext>().Database.GetPendingMigrationsAsync()).ToList();
                if (pending.Count == 0)
                {
                    logger.LogInformation("The database schema is current; exiting ({Flag})", WaitFlag);
                    return;
                }
                logger.LogInformation("Waiting for {Count} migration(s) to be applied: {Migrations}", pending.Count, pending);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                logger.LogInformation("Waiting for the database: {Reason}", e.Message);
            }
            await Task.Delay(WaitInterval);
        }
    }
}
