using Hangfire;
using LoraService.Domain.Models;

namespace LoraService.Worker.Models;

/// <summary>
/// Registers the models folder when the worker starts, and every five minutes after (for checkpoints copied in by hand).
/// On a first run the API may not have created the tables yet: the first sync is retried every second until it
/// succeeds, so GET /models lists the folder's models within seconds of the migration, not five minutes later.
/// </summary>
internal sealed class ModelCatalogStartup(IServiceProvider services, IRecurringJobManager recurring, ILogger<ModelCatalogStartup> logger) : BackgroundService
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // One warning per kind of failure (e.g. "relation base_models does not exist"), not one every second.
        var reported = new HashSet<string>();
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var scope = services.CreateScope();
                scope.ServiceProvider.GetRequiredService<IModelCatalog>().Sync();
                if (failures > 0) logger.LogInformation("Model sync succeeded after {Failures} failed attempt(s)", failures);
                break;
            }
            catch (Exception e)
            {
                if (stoppingToken.IsCancellationRequested) return; // shutting down: a failure now means nothing
                failures++;
                var reason = (e.InnerException ?? e).Message;
                if (reported.Add(reason))
                    logger.LogWarning("Model sync failed ({Reason}); retrying every {Seconds} s until the database is ready", reason, RetryInterval.TotalSeconds);
            }
            try
            {
                await Task.Delay(RetryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                recurring.AddOrUpdate<IModelCatalog>("sync-models", ModelQueues.Models, catalog => catalog.Sync(), "*/5 * * * *");
                return;
            }
            catch (Exception e)
            {
                if (stoppingToken.IsCancellationRequested) return;
                var reason = (e.InnerException ?? e).Message;
                if (reported.Add(reason)) logger.LogWarning("Registering the recurring model sync failed ({Reason}); retrying", reason);
            }
            try
            {
                await Task.Delay(RetryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
