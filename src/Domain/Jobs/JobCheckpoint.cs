namespace LoraService.Domain.Jobs;

/// <summary>A resumable training state (trainable weights, optimizer, schedule, RNG, data position).</summary>
public sealed class JobCheckpoint
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid JobId { get; init; }
    public int Step { get; init; }
    public required string StorageKey { get; init; }
    public long Bytes { get; init; }
    /// <summary>Metrics at this step (train loss, eval losses) as a JSON object.</summary>
    public string? Metrics { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
}
