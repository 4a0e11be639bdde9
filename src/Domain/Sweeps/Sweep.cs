namespace LoraService.Domain.Sweeps;

/// <summary>A grid of jobs created together from one base spec, compared on the learning/forgetting plane.</summary>
public sealed class Sweep : ITenantOwned
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid TenantId { get; init; }
    public required string Name { get; init; }
    /// <summary>The base spec as the client sent it (JSON).</summary>
    public required string BaseSpec { get; init; }
    /// <summary>The grid as the client sent it (JSON: spec path → values).</summary>
    public required string Grid { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>One job of a sweep and where it sits in the grid.</summary>
public sealed class SweepChild
{
    public Guid JobId { get; init; }
    public Guid SweepId { get; init; }
    /// <summary>Its place in the expansion order.</summary>
    public int Index { get; init; }
    /// <summary>Its grid coordinates (JSON object: spec path → value), the settings that make it differ from its siblings.</summary>
    public required string Coordinates { get; init; }
}
