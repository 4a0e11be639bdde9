using Microsoft.Extensions.DependencyInjection.Extensions;
using LoraService.Api.Auth;
using LoraService.Api.Endpoints;
using LoraService.Api.Observability;
using LoraService.Api.Quotas;
using LoraService.Api.RateLimits;
using LoraService.Api.Retention;
using LoraService.Api.Webhooks;

namespace LoraService.Api;

/// <summary>What running the service for months needs (retention, quotas, key revocation, rate limits, metrics), registered in one place.</summary>
internal static class OperationsServices
{
    public static IHostApplicationBuilder AddOperations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(RetentionOptions.Section).Get<RetentionOptions>() ?? new RetentionOptions());
        builder.Services.AddSingleton<OutputExpiry>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OutputExpiry>());
        builder.Services.AddSingleton(builder.Configuration.GetSection(QuotaOptions.Section).Get<QuotaOptions>() ?? new QuotaOptions());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeyCache>();
        builder.Services.AddHostedService<ApiKeyRevocations>();
        builder.Services.AddHostedService<JobGauges>();
        builder.AddWebhooks();
        builder.Services.AddApiRateLimits(builder.Configuration.GetSection(RateLimitOptions.Section).Get<RateLimitOptions>() ?? new RateLimitOptions());
        return builder;
    }

    public static WebApplication MapOperationsApi(this WebApplication app)
    {
        app.MapUsageApi();
        app.MapApiKeysApi();
        app.MapWebhooksApi();
        return app;
    }
}
