namespace LoraService.Worker;

/// <summary>Section "Worker". <see cref="Validate"/> runs at start; a worker with inconsistent settings does not start.</summary>
public sealed record WorkerOptions
{
    public const string Section = "Worker";
    /// <summary>auto, cpu or cuda.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>Extra queues to serve besides the device's own (e.g. "cpu" on a GPU box).</summary>
    public string[] ExtraQueues { get; init; } = [];
    /// <summary>A name for this worker in job rows and logs; defaults to host:pid.</summary>
    public string? Name { get; init; }
    /// <summary>How often a running job's lease is renewed and its progress and metrics are written.</summary>
    public double HeartbeatSeconds { get; init; } = 2;
    /// <summary>
    /// How long a lease lasts without renewal. When it runs out the job's worker is taken for dead: the reaper
    /// re-queues the job, and the worker itself, if alive but cut off from the database, stops the attempt.
    /// </summary>
    public double LeaseSeconds { get; init; } = 30;
    /// <summary>An attempt that writes nothing (no step, evaluation or liveness line) for this long is killed as hung.</summary>
    public double HangAfterSeconds { get; init; } = 600;
    /// <summary>
    /// The graceful-stop budget (SIGTERM, a cancel): the attempt gets this long to finish its step and checkpoint before
    /// it is killed. The host's shutdown timeout is this plus a margin; a deployment's termination grace period must be longer.
    /// </summary>
    public double StopGraceSeconds { get; init; } = 60;

    /// <summary>
    /// Address-space limit (RLIMIT_AS) for each attempt's process in MiB; 0 = none. A run that needs more fails that
    /// attempt as <c>out_of_memory</c> (libtorch's allocation error) instead of waking the kernel's OOM killer.
    /// </summary>
    public int AttemptMemoryLimitMb { get; init; }

    public TimeSpan HeartbeatInterval => TimeSpan.FromSeconds(HeartbeatSeconds);
    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);
    public TimeSpan HangAfter => TimeSpan.FromSeconds(HangAfterSeconds);
    public TimeSpan StopGrace => TimeSpan.FromSeconds(StopGraceSeconds);
    /// <summary>Time to hand a job back after the attempt stopped, before the host gives up on shutdown.</summary>
    public TimeSpan ShutdownTimeout => StopGrace + TimeSpan.FromSeconds(15);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (HeartbeatSeconds <= 0) errors.Add("Worker:HeartbeatSeconds must be positive");
        // Two missed beats must not cost the lease.
        if (LeaseSeconds < 3 * HeartbeatSeconds) errors.Add($"Worker:LeaseSeconds ({LeaseSeconds}) must be at least 3 × Worker:HeartbeatSeconds ({HeartbeatSeconds})");
        if (HangAfterSeconds < 2 * HeartbeatSeconds) errors.Add("Worker:HangAfterSeconds must be at least 2 × Worker:HeartbeatSeconds");
        if (StopGraceSeconds <= 0) errors.Add("Worker:StopGraceSeconds must be positive");
        if (AttemptMemoryLimitMb is < 0 or > 0 and < 1024) errors.Add("Worker:AttemptMemoryLimitMb must be 0 (no limit) or at least 1024 (the runtime and libtorch alone map about 1 GiB)");
        return errors;
    }
}
