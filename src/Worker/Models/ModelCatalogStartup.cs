using Hangfire;
using LoraService.Domain.Models;

namespace LoraService.Worker.Models;

/// <summary>Registers the models folder when the worker starts, and every five minutes after (for checkpoints copied in by hand).</summary>
internal sealed class ModelCatalogStartup(IServiceProvider services, IRecurringJobManager recurring, ILogger<ModelCatalogStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var scope = services.CreateScope();
            scope.ServiceProvider.GetRequiredService<IModelCatalog>().Sync();
        }
        catch (Exception e)
        {
            // The database may still be migrating (the API migrates); the recurring sync catches up.
            logger.LogWarning("Initial model sync failed: {Reason}", e.Message);
        }
        recurring.AddOrUpdate<IModelCatalog>("sync-models", ModelQueues.Models, catalog => catalog.Sync(), "*/5 * * * *");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
