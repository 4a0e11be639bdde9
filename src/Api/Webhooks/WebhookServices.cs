namespace LoraService.Api.Webhooks;

/// <summary>Webhook delivery in the API process: options, the signed sender, the outbox fan-out and the dispatcher with its NOTIFY wake-ups.</summary>
internal static class WebhookServices
{
    public static IHostApplicationBuilder AddWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(WebhookOptions.Section).Get<WebhookOptions>() ?? new WebhookOptions());
        builder.Services.AddSingleton<WebhookSender>();
        builder.Services.AddSingleton<WebhookFanOut>();
        builder.Services.AddSingleton<WebhookDeliveryStore>();
        builder.Services.AddSingleton<WebhookSignal>();
        builder.Services.AddHostedService<WebhookWakeUps>();
        builder.Services.AddHostedService<WebhookDispatcher>();
        return builder;
    }
}
