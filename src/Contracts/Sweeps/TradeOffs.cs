namespace LoraService.Contracts.Sweeps;

/// <summary>Which learning metric (target sets) and forgetting metric (source sets) place a job on the plane.</summary>
public sealed record TradeOffMetrics(string? Learning, string? Forgetting);

/// <summary>A job's point after one evaluated step.</summary>
public sealed record TradeOffStep(int Step, double Learning, double Forgetting);

/// <summary>
/// One learning and one forgetting number per job, exactly as the job summary defines them (<see cref="LearningAndForgetting"/>):
/// by default the loss-based ones, target loss decrease and source loss increase.
/// </summary>
public static class TradeOffs
{
    /// <summary>The default metric of a side is the first of these the sets measure.</summary>
    public static readonly IReadOnlyList<string> Preference = ["loss", "perplexity", "token_accuracy", "acc_norm", "acc", "exact_match"];

    /// <summary>Where a metric stands in <see cref="Preference"/>; unknown ones after all of them.</summary>
    public static int Order(string metric) => Preference.Contains(metric) ? Preference.ToList().IndexOf(metric) : int.MaxValue;

    public static string? DefaultMetric(IEnumerable<string> measured)
    {
        var set = measured.ToHashSet(StringComparer.Ordinal);
        return Preference.FirstOrDefault(set.Contains) ?? set.Order(StringComparer.Ordinal).FirstOrDefault();
    }

    /// <summary>The job's point at its latest evaluation; null until both metrics were evaluated after step 0, or when not finite.</summary>
    public static TradeOffPoint? Final(LearningAndForgetting sides, TradeOffMetrics metrics)
    {
        if (metrics.Learning is not { } l || metrics.Forgetting is not { } f) return null;
        if (!sides.Learning.TryGetValue(l, out var learning) || !sides.Forgetting.TryGetValue(f, out var forgetting)) return null;
        var evaluatedAfterStart = sides.Evaluations.Any(e => e.FinalStep > 0 &&
            ((e.Role == MetricNames.Target && e.Metric == l) || (e.Role == MetricNames.Source && e.Metric == f)));
        var point = new TradeOffPoint(learning, forgetting);
        return evaluatedAfterStart && point.IsFinite ? point : null;
    }

    /// <summary>The point after each evaluated step (step 0, the base model, is the origin), from the points up to that step.</summary>
    public static IReadOnlyList<TradeOffStep> Path(IReadOnlyList<MetricValue> points, TradeOffMetrics metrics)
    {
        var evals = points.Where(p => MetricNames.TryParseEval(p.Name, out var role, out _, out var metric) &&
            ((role == MetricNames.Target && metric == metrics.Learning) || (role == MetricNames.Source && metric == metrics.Forgetting))).ToList();
        var path = new List<TradeOffStep>();
        foreach (var step in evals.Select(p => p.Step).Distinct().Order())
        {
            var sides = LearningAndForgetting.From(evals.Where(p => p.Step <= step));
            if (sides.Learning.TryGetValue(metrics.Learning!, out var l) && sides.Forgetting.TryGetValue(metrics.Forgetting!, out var f)
                && double.IsFinite(l) && double.IsFinite(f))
                path.Add(new TradeOffStep(step, l, f));
        }
        return path;
    }
}
