using System.Diagnostics.Metrics;
using LoraService.ServiceDefaults.Observability;

namespace LoraService.Api.Observability;

/// <summary>Webhook instruments on the service's meter (served on /metrics with the others).</summary>
internal static class WebhookMetrics
{
    private static readonly Meter Meter = new(ServiceMetrics.MeterName);

    public static readonly Counter<long> Events =
        Meter.CreateCounter<long>("lora.webhook.events", "{event}", "Outbox events fanned out to endpoints, by type");
    public static readonly Counter<long> Attempts =
        Meter.CreateCounter<long>("lora.webhook.delivery.attempts", "{attempt}", "Delivery attempts, by outcome (succeeded, http_error, timeout, connection_error, refused)");
    public static readonly Histogram<double> Duration =
        Meter.CreateHistogram<double>("lora.webhook.delivery.duration", "s", "Time from sending a delivery to its response (or failure)");
    public static readonly Counter<long> GaveUp =
        Meter.CreateCounter<long>("lora.webhook.deliveries.failed", "{delivery}", "Deliveries that failed for the whole retry window");
    public static readonly Counter<long> Disabled =
        Meter.CreateCounter<long>("lora.webhook.endpoints.disabled", "{endpoint}", "Endpoints disabled after failing for the configured window");
}
