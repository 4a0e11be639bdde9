using Hangfire;
using Hangfire.PostgreSql;
using LoraService.Domain;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Jobs;
using LoraService.ServiceDefaults.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace LoraService.ServiceDefaults;

/// <summary>What every LoraService host shares: logging, persistence, the Hangfire storage and health checks.</summary>
public static class Extensions
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>Serilog's default console line, with the job (id#attempt) in front of every line logged for one.</summary>
    public const string ConsoleTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {JobTag:l}{Message:lj}{NewLine}{Exception}";

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSerilog((services, logger) => logger
            .ReadFrom.Configuration(builder.Configuration)
            .ReadFrom.Services(services)
            .Enrich.FromLogContext()
            .Enrich.With<JobTagEnricher>()
            .WriteTo.Console(outputTemplate: ConsoleTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture),
            // Each host keeps its own logger. Otherwise Serilog routes every host's events through the static Log.Logger,
            // which the last host built owns and the first host stopped disposes: with several hosts in one process (the
            // tests), one host's events would go to another's sinks, or nowhere.
            preserveStaticLogger: true);

        var options = builder.Configuration.GetSection(LoraOptions.Section).Get<LoraOptions>() ?? new LoraOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddDomainServices(builder.GetPostgresConnectionString(), options.ArtifactsPath);

        builder.Services.AddHealthChecks()
            .AddDbContextCheck<LoraDbContext>("postgres", tags: ["ready"])
            .AddCheck<SchemaHealthCheck>("schema", tags: ["ready"]);
        builder.AddServiceMetrics();
        builder.AddServiceTracing();
        return builder;
    }

    public static string GetPostgresConnectionString(this IHostApplicationBuilder builder) =>
        builder.Configuration.GetConnectionString(ConnectionStringName)
        ?? throw new InvalidOperationException(
            $"Connection string '{ConnectionStringName}' is not set (ConnectionStrings__{ConnectionStringName}). `./lora.sh up` sets it for the embedded PostgreSQL.");

    /// <summary>Hangfire on PostgreSQL with the settings long training jobs need (see FIELD-NOTES).</summary>
    public static IHostApplicationBuilder AddHangfireStorage(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.GetPostgresConnectionString();
        var invisibility = TimeSpan.FromSeconds(builder.Configuration.GetValue("Hangfire:InvisibilityTimeoutSeconds", 300.0));
        builder.Services.AddHangfire(config => config
            // A wake-up is never retried blindly: the job row and its lease decide what runs (see JobReaper).
            .UseFilter(new AutomaticRetryAttribute { Attempts = 0 })
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(pg => pg.UseNpgsqlConnection(connectionString), new PostgreSqlStorageOptions
            {
                SchemaName = "hangfire",
                PrepareSchemaIfNecessary = true,
                // Sliding invisibility keeps a long run's wake-up from being fetched again. Correctness never depends on
                // it: a second fetch finds the job held under a live lease and leaves it alone, whatever the timeouts.
                UseSlidingInvisibilityTimeout = true,
                InvisibilityTimeout = invisibility,
                EnableLongPolling = true,
                QueuePollInterval = TimeSpan.FromSeconds(5),
            }));
        return builder;
    }

    /// <summary>Wake-ups for queued jobs and the reaper that makes stranded jobs whole; every host runs one.</summary>
    public static IHostApplicationBuilder AddJobReaper(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(ReaperOptions.Section).Get<ReaperOptions>() ?? new ReaperOptions());
        builder.Services.AddSingleton<JobWakeUps>();
        builder.Services.AddSingleton<JobReaper>();
        builder.Services.AddHostedService(services => services.GetRequiredService<JobReaper>());
        return builder;
    }

    /// <summary>/health/live: the process answers. /health/ready: PostgreSQL answers and the schema is current. /metrics: Prometheus.</summary>
    public static IEndpointRouteBuilder MapDefaultHealthChecks(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks(HealthEndpoints.Live, new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks(HealthEndpoints.Ready, new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") }).AllowAnonymous();
        app.MapPrometheusScrapingEndpoint(ServiceMetrics.Path).AllowAnonymous();
        return app;
    }
}
