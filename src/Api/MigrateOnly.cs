using Hangfire;
using LoraService.ServiceDefaults;

namespace LoraService.Api;

/// <summary>
/// <c>LoraService.Api --migrate-only</c>: applies the EF Core migrations and creates the Hangfire schema, then exits
/// (0 on success). Deployments run it once as a step of its own (a compose service, a Kubernetes Job) and start the API
/// replicas with <c>Lora__MigrateOnStartup=false</c>.
/// </summary>
internal static class MigrateOnly
{
    public const string Flag = "--migrate-only";

    /// <summary>True when <see cref="Flag"/> is among <paramref name="args"/>; <paramref name="rest"/> is the others.</summary>
    public static bool Requested(string[] args, out string[] rest)
    {
        rest = args.Where(a => a != Flag).ToArray();
        return rest.Length != args.Length;
    }

    public static async Task RunAsync(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MigrateOnly).FullName!);
        await DatabaseMigrator.MigrateAsync(app.Services, logger, CancellationToken.None);
        // Hangfire.PostgreSql creates or upgrades its schema when the storage is built.
        _ = app.Services.GetRequiredService<JobStorage>();
        logger.LogInformation("Migrations applied; exiting (--migrate-only)");
    }
}
