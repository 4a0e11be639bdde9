namespace LoraService.Domain.Jobs;

/// <summary>One value of one metric at one optimizer step. (job, name, step) is unique, so a resumed job never duplicates points.</summary>
public sealed class MetricPoint
{
    public long Id { get; init; }
    public Guid JobId { get; init; }
    public required string Name { get; init; }
    public int Step { get; init; }
    public double Value { get; init; }
    /// <summary>The attempt (fencing token) whose worker wrote the point.</summary>
    public int Attempt { get; init; }
    public DateTimeOffset RecordedAt { get; init; } = DateTimeOffset.UtcNow;
}
