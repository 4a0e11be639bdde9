namespace LoraService.Domain.Webhooks;

/// <summary>
/// One event for one endpoint, and the log of trying to deliver it. A notice row (no event) records something that
/// happened to the endpoint itself, such as being disabled.
/// </summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid EndpointId { get; init; }
    public Guid? EventId { get; init; }
    public required string EventType { get; init; }
    public string Status { get; set; } = WebhookDeliveryStatus.Pending;
    public int Attempts { get; set; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset? NextAttemptAt { get; set; } = DateTimeOffset.UtcNow;
    /// <summary>A dispatcher instance holds the row until then while it sends; an expired lease makes it due again.</summary>
    public DateTimeOffset? LeaseUntil { get; set; }
    public DateTimeOffset? LastAttemptAt { get; set; }
    public int? LastStatusCode { get; set; }
    public int? LastLatencyMs { get; set; }
    /// <summary>Why the last attempt failed (timeout, connection refused, address not allowed), or a notice's text.</summary>
    public string? LastError { get; set; }
    /// <summary>At most <see cref="WebhookDeliveryStatus.ResponsePrefixChars"/> characters of the last response body.</summary>
    public string? ResponsePrefix { get; set; }
}

public static class WebhookDeliveryStatus
{
    public const int ResponsePrefixChars = 256;

    /// <summary>Waiting for its next attempt (or being sent).</summary>
    public const string Pending = "pending";
    public const string Succeeded = "succeeded";
    /// <summary>Retried for the whole retry window without a 2xx; a redelivery tries again.</summary>
    public const string Failed = "failed";
    /// <summary>Stopped because its endpoint was disabled.</summary>
    public const string Abandoned = "abandoned";
    /// <summary>A log entry about the endpoint, not a delivery.</summary>
    public const string Notice = "notice";
}
