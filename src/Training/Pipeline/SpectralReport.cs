using LoraService.Training.Spectral;

namespace LoraService.Training.Pipeline;

/// <summary><c>spectral.json</c>: ΔW singular values per adapted (LoRA) or fine-tuned (full) projection, and means per module name.</summary>
public sealed record SpectralReport(string Method, IReadOnlyList<SpectralEntry> Entries)
{
    public IReadOnlyList<SpectralModuleSummary> Modules => Entries.GroupBy(e => e.Module).OrderBy(g => g.Key, StringComparer.Ordinal)
        .Select(g => new SpectralModuleSummary(g.Key, g.Count(), g.Average(e => e.Rank90), g.Average(e => e.FrobeniusNorm)))
        .ToList();
}
