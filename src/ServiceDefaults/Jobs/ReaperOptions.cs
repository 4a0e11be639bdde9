namespace LoraService.ServiceDefaults.Jobs;

/// <summary>
/// The reaper's settings, read from section "Worker" by every host that runs a reaper (API and workers). Nothing here
/// has to agree across hosts: lease expiries are written by the holder, compared with the database's clock.
/// </summary>
public sealed record ReaperOptions
{
    public const string Section = "Worker";

    /// <summary>How often the reaper looks for jobs with an expired lease or no wake-up.</summary>
    public double ReaperSeconds { get; init; } = 5;

    /// <summary>A queued job that waited this long gets another wake-up (then once per this interval).</summary>
    public double RewakeSeconds { get; init; } = 30;

    public TimeSpan Interval => TimeSpan.FromSeconds(ReaperSeconds);
    public TimeSpan Rewake => TimeSpan.FromSeconds(RewakeSeconds);
}
