using System.Text.Json;

namespace LoraService.Study;

/// <summary>Learning and forgetting (loss-based: mean target-loss decrease, mean source-loss increase) after some step.</summary>
sealed record TradeOffPoint(int Step, double Learning, double Forgetting);

/// <summary>What one grid job measured, read back through the API.</summary>
sealed record JobOutcome(
    GridPoint Point, Guid JobId, long? TrainableParameters,
    double Learning, double Forgetting,
    double TargetExactMatch, double TargetLoss, double SourceAccNorm, double SourcePerplexity,
    double? Rank90Attention, double? Rank90Mlp, double Seconds, IReadOnlyList<TradeOffPoint> Path);

/// <summary>The base model's values (step 0, the same for every job) on the four evaluation sets.</summary>
sealed record Baseline(double TargetExactMatch, double TargetLoss, double SourceAccNorm, double SourcePerplexity);

/// <summary>The pretraining job: how well the base model knows its world before any fine-tuning.</summary>
sealed record Pretraining(Guid JobId, string Model, int Steps, double AccNormBefore, double AccNormAfter, double PerplexityBefore,
    double PerplexityAfter, double Seconds);

sealed record StudyResult(StudyProfile Profile, Pretraining Pretraining, Baseline Baseline, IReadOnlyList<JobOutcome> Jobs, double Seconds)
{
    /// <summary>The machine the study ran on (CPU, cores, OS, load), for the report.</summary>
    public string Machine { get; init; } = "";

    /// <summary>Per method and rank, the learning rate with the most learning (the paper's "best LR").</summary>
    public IReadOnlyList<JobOutcome> Best => Jobs.GroupBy(j => j.Point.Label).Select(g => g.MaxBy(j => j.Learning)!)
        .OrderBy(j => j.Point.Rank ?? int.MaxValue).ToList();

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>Reads one evaluation's numbers out of GET /jobs/{id}/summary and GET /jobs/{id}/metrics.</summary>
static class SummaryReading
{
    public static double Final(JsonElement summary, Guid dataset, string metric, bool baseline = false)
    {
        foreach (var e in summary.GetProperty("summary").GetProperty("evaluations").EnumerateArray())
            if (e.GetProperty("dataset").GetGuid() == dataset && e.GetProperty("metric").GetString() == metric)
                return e.GetProperty(baseline ? "baseline" : "final").GetDouble();
        return double.NaN;
    }

    public static double Side(JsonElement summary, string side, string metric) =>
        summary.GetProperty("summary").GetProperty(side).TryGetProperty(metric, out var v) ? v.GetDouble() : double.NaN;

    /// <summary>Learning and forgetting after every evaluated step, from the eval loss series (as the summary defines them).</summary>
    public static IReadOnlyList<TradeOffPoint> Path(JsonElement metrics, IReadOnlyList<Guid> target, IReadOnlyList<Guid> source)
    {
        var series = metrics.GetProperty("series");
        Dictionary<int, double>? Loss(string role, Guid set) =>
            series.TryGetProperty($"eval/{role}/{set:N}/loss", out var s)
                ? s.GetProperty("steps").EnumerateArray().Select(x => x.GetInt32())
                    .Zip(s.GetProperty("values").EnumerateArray().Select(x => x.GetDouble())).ToDictionary(p => p.First, p => p.Second)
                : null;
        var targets = target.Select(t => Loss("target", t)).OfType<Dictionary<int, double>>().ToList();
        var sources = source.Select(s => Loss("source", s)).OfType<Dictionary<int, double>>().ToList();
        if (targets.Count == 0 || sources.Count == 0) return [];
        var steps = targets[0].Keys.Where(k => targets.All(t => t.ContainsKey(k)) && sources.All(s => s.ContainsKey(k))).Order();
        return steps.Select(step => new TradeOffPoint(step,
            targets.Average(t => t[0] - t[step]),
            sources.Average(s => s[step] - s[0]))).ToList();
    }

    private static readonly string[] Attention = ["q_proj", "k_proj", "v_proj", "o_proj"];
    private static readonly string[] Mlp = ["gate_proj", "up_proj", "down_proj"];

    /// <summary>Median rank90 of ΔW over every attention (q, k, v, o) or MLP (gate, up, down) projection of every layer.</summary>
    public static (double? Attention, double? Mlp) MedianRank90(JsonElement spectral)
    {
        var entries = spectral.GetProperty("entries").EnumerateArray()
            .Select(e => (Module: e.GetProperty("module").GetString() ?? "", Rank: e.GetProperty("rank90").GetInt32())).ToList();
        double? Median(string[] kinds)
        {
            var ranks = entries.Where(e => kinds.Any(k => e.Module.EndsWith(k, StringComparison.Ordinal))).Select(e => (double)e.Rank).Order().ToList();
            if (ranks.Count == 0) return null;
            return ranks.Count % 2 == 1 ? ranks[ranks.Count / 2] : (ranks[ranks.Count / 2 - 1] + ranks[ranks.Count / 2]) / 2;
        }
        return (Median(Attention), Median(Mlp));
    }
}
