using Hangfire;
using LoraService.ServiceDefaults;
using LoraService.ServiceDefaults.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Worker.Jobs;
using LoraService.Worker.Devices;
using LoraService.Worker.Models;

namespace LoraService.Worker;

internal static class Extensions
{
    public static IHostApplicationBuilder AddWorkerServices(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>() ?? new WorkerOptions();
        if (options.Validate() is { Count: > 0 } errors)
            throw new InvalidOperationException("Invalid worker settings: " + string.Join("; ", errors));
        var device = ComputeDevice.Detect(options.Device);
        var name = options.Name ?? $"{Environment.MachineName}:{Environment.ProcessId}";
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(device);

        // One graceful-stop budget: the attempt's grace period, then the hand-back, within the host's shutdown timeout.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        builder.AddHangfireStorage();
        builder.AddJobReaper();
        builder.Services.AddHangfireServer(server =>
        {
            server.ServerName = name;
            server.Queues = [device.Queue, .. options.ExtraQueues.Where(q => q != device.Queue)];
            // One training job per device at a time.
            server.WorkerCount = 1;
            server.StopTimeout = options.ShutdownTimeout;
            server.ShutdownTimeout = options.ShutdownTimeout;
        });
        // Model-folder chores get their own server so they never wait behind a training run.
        builder.Services.AddHangfireServer(server =>
        {
            server.ServerName = name + ":models";
            server.Queues = [ModelQueues.Models];
            server.WorkerCount = 1;
        });
        builder.Services.AddScoped<IModelCatalog, ModelCatalog>();
        builder.Services.AddScoped<IModelPromoter, ModelPromoter>();
        builder.Services.AddSingleton(new WorkerIdentity(name, device.Kind));
        builder.Services.AddScoped<JobClaimer>();
        builder.Services.AddSingleton<CancelSignals>();
        builder.Services.AddHostedService(services => services.GetRequiredService<CancelSignals>());
        builder.Services.AddSingleton<JobFinisher>();
        builder.Services.AddSingleton<AttemptRunner>();
        builder.Services.AddScoped<ITrainingJobRunner, TrainingJobRunner>();
        builder.Services.AddHostedService<DeviceAnnouncer>();
        builder.Services.AddHostedService<ModelCatalogStartup>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWorkerInfo(this IEndpointRouteBuilder app)
    {
        app.MapGet("/worker", (ComputeDevice device, WorkerOptions options) => Results.Ok(new
        {
            device = device.Kind,
            device.Description,
            queue = device.Queue,
            options.ExtraQueues,
        }));
        return app;
    }
}

/// <summary>Logs which device this worker trains on, once, at start.</summary>
internal sealed class DeviceAnnouncer(ComputeDevice device, ILogger<DeviceAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("Worker device: {Device}; serving queue {Queue}", device.Description, device.Queue);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
