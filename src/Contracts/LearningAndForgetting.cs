namespace LoraService.Contracts;

/// <summary>One metric value at one step, as stored or journalled.</summary>
public sealed record MetricValue(string Name, int Step, double Value);

/// <summary>Baseline (step 0, the base model) vs final value of one eval metric on one set.</summary>
/// <param name="Change">Improvement, positive = better: base − final for loss/perplexity, final − base for accuracies.
/// On a target set it is learning; on a source set its negative is forgetting.</param>
public sealed record EvalComparison(string Role, Guid Dataset, string Metric, double Baseline, double Final, int FinalStep, double Change);

/// <summary>
/// The paper's two sides of a fine-tune. Learning = mean improvement per metric over the target sets; forgetting = mean
/// degradation per metric over the source sets (positive = forgot). Validation sets are compared but count in neither.
/// </summary>
public sealed record LearningAndForgetting(
    IReadOnlyList<EvalComparison> Evaluations,
    IReadOnlyDictionary<string, double> Learning,
    IReadOnlyDictionary<string, double> Forgetting)
{
    public static LearningAndForgetting From(IEnumerable<MetricValue> points)
    {
        var evaluations = new List<EvalComparison>();
        foreach (var series in points.GroupBy(p => p.Name))
        {
            if (!MetricNames.TryParseEval(series.Key, out var role, out var dataset, out var metric)) continue;
            var baseline = series.FirstOrDefault(p => p.Step == 0);
            if (baseline is null) continue;
            var final = series.MaxBy(p => p.Step)!;
            var change = MetricNames.LowerIsBetter(metric) ? baseline.Value - final.Value : final.Value - baseline.Value;
            evaluations.Add(new EvalComparison(role, dataset, metric, baseline.Value, final.Value, final.Step, change));
        }
        evaluations = [.. evaluations.OrderBy(e => e.Role, StringComparer.Ordinal).ThenBy(e => e.Dataset).ThenBy(e => e.Metric, StringComparer.Ordinal)];

        Dictionary<string, double> MeanChange(string role, int sign) => evaluations
            .Where(e => e.Role == role).GroupBy(e => e.Metric)
            .ToDictionary(g => g.Key, g => sign * g.Average(e => e.Change) + 0.0); // + 0.0 turns −0 into 0

        return new LearningAndForgetting(evaluations, MeanChange(MetricNames.Target, 1), MeanChange(MetricNames.Source, -1));
    }
}
