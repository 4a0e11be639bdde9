using LoraService.Training.Spectral;

namespace LoraService.Training.Pipeline;

/// <summary>Baseline (step 0, the base model) vs final value of one metric on one set.</summary>
/// <param name="Change">Improvement, positive = better: base − final for loss/perplexity, final − base for accuracies.</param>
public sealed record BaselineComparison(string Role, Guid DatasetId, string Name, string Metric, double Baseline, double Final, int FinalStep, double Change);

/// <summary>Mean spectral figures of one module name (e.g. <c>self_attn.q_proj</c>) over the layers.</summary>
public sealed record SpectralModuleSummary(string Module, int Count, double MeanRank90, double MeanFrobeniusNorm);

/// <summary>
/// <c>summary.json</c>: learning = mean improvement per metric over the target sets; forgetting = mean degradation
/// per metric over the source sets (positive = forgot). Validation comparisons are listed but in neither.
/// </summary>
/// <param name="WallTimeSeconds">Training wall time from the start of step 0 (baseline evaluation included) to the last step,
/// summed over resumed sittings; loading and export are not counted.</param>
/// <param name="TokensPerSecond">Tokens seen ÷ wall time.</param>
public sealed record RunSummary(
    string Method,
    IReadOnlyList<BaselineComparison> Evaluations,
    IReadOnlyDictionary<string, double> Learning,
    IReadOnlyDictionary<string, double> Forgetting,
    double? FinalTrainLoss,
    int Steps,
    int TotalSteps,
    long TokensSeen,
    double WallTimeSeconds,
    double TokensPerSecond,
    IReadOnlyList<SpectralModuleSummary> Spectral)
{
    public static RunSummary Build(string method, IReadOnlyList<MetricRecord> metrics, IReadOnlyDictionary<Guid, string> setNames,
        int steps, int totalSteps, long tokensSeen, IReadOnlyList<SpectralEntry> spectral)
    {
        var evaluations = new List<BaselineComparison>();
        foreach (var series in metrics.GroupBy(p => p.Name))
        {
            if (!RunMetricNames.TryParseEval(series.Key, out var role, out var dataset, out var metric)) continue;
            var baseline = series.FirstOrDefault(p => p.Step == 0);
            if (baseline is null) continue;
            var final = series.MaxBy(p => p.Step)!;
            var change = RunMetricNames.LowerIsBetter(metric) ? baseline.Value - final.Value : final.Value - baseline.Value;
            evaluations.Add(new BaselineComparison(role, dataset, setNames.GetValueOrDefault(dataset, ""), metric,
                baseline.Value, final.Value, final.Step, change));
        }
        evaluations = [.. evaluations.OrderBy(e => e.Role, StringComparer.Ordinal).ThenBy(e => e.Name, StringComparer.Ordinal)
            .ThenBy(e => e.DatasetId).ThenBy(e => e.Metric, StringComparer.Ordinal)];

        Dictionary<string, double> MeanChange(string role, int sign) => evaluations
            .Where(e => e.Role == role).GroupBy(e => e.Metric)
            .ToDictionary(g => g.Key, g => sign * g.Average(e => e.Change) + 0.0); // + 0.0 turns −0 into 0

        var lastLoss = metrics.Where(p => p.Name == RunMetricNames.TrainLoss).MaxBy(p => p.Step);
        var seconds = metrics.Where(p => p.Name == RunMetricNames.ElapsedSeconds).MaxBy(p => p.Step)?.Value ?? 0;
        var modules = new SpectralReport(method, spectral).Modules;
        return new RunSummary(method, evaluations, MeanChange(RunMetricNames.Target, 1), MeanChange(RunMetricNames.Source, -1),
            lastLoss?.Value, steps, totalSteps, tokensSeen, seconds, seconds > 0 ? tokensSeen / seconds : 0, modules);
    }
}
