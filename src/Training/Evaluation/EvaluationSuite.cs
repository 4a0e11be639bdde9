namespace LoraService.Training.Evaluation;

/// <summary>A named evaluation: runs on the current model and returns its metrics.</summary>
public sealed record EvalSet(string Name, Func<IReadOnlyDictionary<string, double>> Run);

public static class EvaluationSuite
{
    /// <summary>
    /// One trainer evaluation hook over several sets; metric keys become <c>set/metric</c>
    /// (e.g. <c>gsm8k/exact_match</c>, <c>wiki/perplexity</c>).
    /// </summary>
    public static Func<int, IReadOnlyDictionary<string, double>> Hook(IEnumerable<EvalSet> sets)
    {
        var list = sets.ToList();
        return _ => RunAll(list);
    }

    public static IReadOnlyDictionary<string, double> RunAll(IEnumerable<EvalSet> sets)
    {
        var metrics = new Dictionary<string, double>();
        foreach (var set in sets)
            foreach (var (name, value) in set.Run())
                metrics[$"{set.Name}/{name}"] = value;
        return metrics;
    }
}
