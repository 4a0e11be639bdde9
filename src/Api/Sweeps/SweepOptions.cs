using LoraService.Contracts.Jobs;

namespace LoraService.Api.Sweeps;

/// <summary>Section "Sweeps".</summary>
internal sealed record SweepOptions
{
    public const string Section = "Sweeps";
    /// <summary>Children one sweep may expand to; a larger grid is a 422 naming <c>grid</c>.</summary>
    public int MaxChildren { get; init; } = SweepDefaults.MaxChildren;
}
