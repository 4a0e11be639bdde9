using Hangfire;
using Hangfire.PostgreSql;
using LoraService.Domain;
using LoraService.Domain.Persistence;
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

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSerilog((services, logger) => logger
            .ReadFrom.Configuration(builder.Configuration)
            .ReadFrom.Services(services)
            .Enrich.FromLogContext()
            .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture));

        var options = builder.Configuration.GetSection(LoraOptions.Section).Get<LoraOptions>() ?? new LoraOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddDomainServices(builder.GetPostgresConnectionString(), options.ArtifactsPath);

        builder.Services.AddHealthChecks()
            .AddDbContextCheck<LoraDbContext>("postgres", tags: ["ready"]);
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
            // Training is not retried blindly: a crashed job is resumed from its checkpoint by the next worker that fetches it.
            .UseFilter(new AutomaticRetryAttribute { Attempts = 0 })
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(pg => pg.UseNpgsqlConnection(connectionString), new PostgreSqlStorageOptions
            {
                SchemaName = "hangfire",
                PrepareSchemaIfNecessary = true,
                // Without sliding invisibility a job running longer than the timeout is handed to a second worker.
                UseSlidingInvisibilityTimeout = true,
                // How long a job fetched by a worker that died stays invisible before another worker picks it up.
                InvisibilityTimeout = invisibility,
                EnableLongPolling = true,
                QueuePollInterval = TimeSpan.FromSeconds(5),
            }));
        return builder;
    }

    /// <summary>/health/live: the process answers. /health/ready: PostgreSQL answers too.</summary>
    public static IEndpointRouteBuilder MapDefaultHealthChecks(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") }).AllowAnonymous();
        return app;
    }
}
