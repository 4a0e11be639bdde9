namespace LoraService.Contracts;

/// <summary>
/// Metric naming: <c>train/&lt;metric&gt;</c> per optimizer step, <c>eval/&lt;role&gt;/&lt;dataset id&gt;/&lt;metric&gt;</c> at each
/// evaluation, where role is <c>target</c> (learning), <c>source</c> (forgetting) or <c>validation</c>. Step 0 is the base model.
/// </summary>
public static class MetricNames
{
    public const string TrainLoss = "train/loss";
    public const string LearningRate = "train/lr";
    public const string GradNorm = "train/grad_norm";
    public const string TokensPerSecond = "train/tokens_per_s";
    public const string TokensSeen = "train/tokens_seen";
    public const string Epoch = "train/epoch";
    /// <summary>Training wall time in seconds since step 0, summed over resumed sittings.</summary>
    public const string ElapsedSeconds = "train/elapsed_s";
    /// <summary>Seconds spent evaluating so far (all sets, baseline included), summed over resumed sittings; at each evaluated step.</summary>
    public const string EvaluationSeconds = "time/eval_s";

    public const string Target = "target";
    public const string Source = "source";
    public const string Validation = "validation";

    public static string Eval(string role, Guid dataset, string metric) => $"eval/{role}/{dataset:N}/{metric}";

    /// <summary>Splits an eval metric name; false for anything else.</summary>
    public static bool TryParseEval(string name, out string role, out Guid dataset, out string metric)
    {
        role = metric = "";
        dataset = Guid.Empty;
        var parts = name.Split('/');
        if (parts.Length != 4 || parts[0] != "eval" || !Guid.TryParseExact(parts[2], "N", out dataset)) return false;
        (role, metric) = (parts[1], parts[3]);
        return true;
    }

    /// <summary>Loss-like metrics improve downwards; accuracies improve upwards.</summary>
    public static bool LowerIsBetter(string metric) => metric is "loss" or "perplexity";
}
