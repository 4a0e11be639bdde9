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
    /// <summary>How often a training job's heartbeat, progress and metrics are written.</summary>
    public double HeartbeatSeconds { get; init; } = 2;
    /// <summary>A running job whose heartbeat is older than this belongs to a dead worker and may be taken over.</summary>
    public double StaleAfterSeconds { get; init; } = 60;

    /// <summary>Attempts after which a job whose workers keep dying fails instead of being resumed again.</summary>
    public int MaxAttempts { get; init; } = 3;

    public TimeSpan HeartbeatInterval => TimeSpan.FromSeconds(HeartbeatSeconds);
    public TimeSpan StaleAfter => TimeSpan.FromSeconds(StaleAfterSeconds);
}
