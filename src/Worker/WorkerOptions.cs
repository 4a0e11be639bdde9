namespace LoraService.Worker;

/// <summary>Section "Worker".</summary>
public sealed record WorkerOptions
{
    public const string Section = "Worker";
    /// <summary>auto, cpu or cuda.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>Extra queues to serve besides the device's own (e.g. "cpu" on a GPU box).</summary>
    public string[] ExtraQueues { get; init; } = [];
    /// <summary>A name for this worker in job rows and logs; defaults to host:pid.</summary>
    public string? Name { get; init; }
}
