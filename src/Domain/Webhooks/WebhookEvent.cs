namespace LoraService.Domain.Webhooks;

/// <summary>
/// An outbox row: written in the same transaction as the job change it reports, so none is lost or invented. The
/// dispatcher turns it into one <see cref="WebhookDelivery"/> per subscribed endpoint and stores the payload it will send
/// (the same bytes on every attempt).
/// </summary>
public sealed class WebhookEvent
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid TenantId { get; init; }
    public Guid JobId { get; init; }
    public required string Type { get; init; }
    /// <summary>The job's status when the event happened (the payload's job object is read at fan-out; it reports this status).</summary>
    public required string JobStatus { get; init; }
    /// <summary>Optional JSON object with what the event adds to the job (e.g. the step and learning/forgetting of an evaluation).</summary>
    public string? Details { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>When the dispatcher fanned it out to the endpoints; null while it waits.</summary>
    public DateTimeOffset? DispatchedAt { get; set; }
    /// <summary>The JSON body every delivery of this event sends.</summary>
    public string? Payload { get; set; }
}
