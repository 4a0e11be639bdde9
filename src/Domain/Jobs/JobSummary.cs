namespace LoraService.Domain.Jobs;

/// <summary>Baseline (step 0, the base model) vs final value of one eval metric on one set.</summary>
/// <param name="Change">Improvement: positive is better (for loss, base − final; for accuracy, final − base).
/// On a target set it is learning; on a source set its negative is forgetting.</param>
public sealed record EvalComparison(string Role, Guid Dataset, string Metric, double Baseline, double Final, int FinalStep, double Change);

/// <param name="Learning">Mean improvement per metric over the target sets.</param>
/// <param name="Forgetting">Mean degradation per metric over the source sets (positive = forgot).</param>
public sealed record JobSummary(
    IReadOnlyList<EvalComparison> Evaluations,
    IReadOnlyDictionary<string, double> Learning,
    IReadOnlyDictionary<string, double> Forgetting,
    double? FinalTrainLoss,
    int Steps,
    long TokensSeen)
{
    /// <summary>Builds the summary from metric points, as stored; the same function serves the API and the worker's summary.json.</summary>
    public static JobSummary FromMetrics(IEnumerable<MetricPoint> points)
    {
        var all = points.ToList();
        var evaluations = new List<EvalComparison>();
        foreach (var series in all.GroupBy(p => p.Name))
        {
            if (!MetricNames.TryParseEval(series.Key, out var role, out var dataset, out var metric)) continue;
            var baseline = series.FirstOrDefault(p => p.Step == 0);
            var final = series.MaxBy(p => p.Step)!;
            if (baseline is null) continue;
            var change = MetricNames.LowerIsBetter(metric) ? baseline.Value - final.Value : final.Value - baseline.Value;
            evaluations.Add(new EvalComparison(role, dataset, metric, baseline.Value, final.Value, final.Step, change));
        }
        evaluations = [.. evaluations.OrderBy(e => e.Role).ThenBy(e => e.Dataset).ThenBy(e => e.Metric)];

        Dictionary<string, double> MeanChange(string role, int sign) => evaluations
            .Where(e => e.Role == role).GroupBy(e => e.Metric)
            .ToDictionary(g => g.Key, g => sign * g.Average(e => e.Change));

        var train = all.Where(p => p.Name == MetricNames.TrainLoss).MaxBy(p => p.Step);
        var tokens = all.Where(p => p.Name == MetricNames.TokensSeen).MaxBy(p => p.Step);
        return new JobSummary(evaluations, MeanChange(MetricNames.Target, 1), MeanChange(MetricNames.Source, -1),
            train?.Value, train?.Step ?? 0, (long)(tokens?.Value ?? 0));
    }
}
