namespace LoraService.Api.Retention;

/// <summary>Section "Retention": how long finished jobs keep their files.</summary>
internal sealed record RetentionOptions
{
    public const string Section = "Retention";
    /// <summary>Days after a job finished when its outputs and checkpoints are deleted; 0 = never.</summary>
    public int ExpireOutputsAfterDays { get; init; }
    /// <summary>How often the expiry runs.</summary>
    public double SweepSeconds { get; init; } = 3600;
}
