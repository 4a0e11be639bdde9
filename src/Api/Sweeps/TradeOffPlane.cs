using System.Text.Json.Nodes;
using LoraService.Contracts;
using LoraService.Contracts.Jobs;
using LoraService.Contracts.Sweeps;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Sweeps;

/// <summary>The metric choice of a request: <c>metric</c> for both sides, or each side on its own.</summary>
internal sealed record MetricChoice(string? Metric, string? LearningMetric, string? ForgettingMetric, double? MaxForgetting);

/// <summary>Jobs placed on the learning/forgetting plane, with the front and the best job under the limit.</summary>
internal sealed record TradeOffPlane(
    string? BaseModel, TradeOffMetrics Metrics, MeasuredMetricsResponse Measured, double? MaxForgetting, Guid? Best,
    IReadOnlyList<Guid> Front, IReadOnlyList<TradeOffJobResponse> Jobs)
{
    public CompareResponse ToCompare() => new(BaseModel, Metrics.Learning, Metrics.Forgetting, Measured, MaxForgetting, Best, Front, Jobs);

    /// <summary>
    /// Reads the jobs' eval points (one query) and the formats of their eval sets, picks the metrics (422 errors for one the
    /// sets do not measure) and places each job. <paramref name="coordinates"/> are the sweep children's, by job.
    /// </summary>
    public static async Task<(TradeOffPlane? Plane, IReadOnlyDictionary<string, string[]> Errors)> BuildAsync(
        LoraDbContext db, IReadOnlyList<FineTuneJob> jobs, MetricChoice choice, CancellationToken ct,
        IReadOnlyDictionary<Guid, JsonObject>? coordinates = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (choice.MaxForgetting is { } max && !double.IsFinite(max)) errors["max_forgetting"] = ["max_forgetting must be a finite number."];

        var ids = jobs.Select(j => j.Id).ToList();
        var points = (await db.MetricPoints.AsNoTracking()
                .Where(m => ids.Contains(m.JobId) && m.Name.StartsWith("eval/"))
                .Select(m => new { m.JobId, m.Name, m.Step, m.Value })
                .ToListAsync(ct))
            .GroupBy(p => p.JobId)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<MetricValue>)[.. g.Select(p => new MetricValue(p.Name, p.Step, p.Value))]);

        var measuredLearning = await MeasuredAsync(db, jobs, points, MetricNames.Target, j => j.Spec.Evaluation?.Target, ct);
        var measuredForgetting = await MeasuredAsync(db, jobs, points, MetricNames.Source, j => j.Spec.Evaluation?.Source, ct);
        var learning = Pick(choice.LearningMetric ?? choice.Metric, choice.LearningMetric is null ? "metric" : "learning_metric", measuredLearning, "target", errors);
        var forgetting = Pick(choice.ForgettingMetric ?? choice.Metric, choice.ForgettingMetric is null ? "metric" : "forgetting_metric", measuredForgetting, "source", errors);
        if (errors.Count > 0) return (null, errors);

        var metrics = new TradeOffMetrics(learning, forgetting);
        var placed = jobs.Select(j =>
        {
            var values = points.GetValueOrDefault(j.Id) ?? [];
            return (Job: j, Point: TradeOffs.Final(LearningAndForgetting.From(values), metrics), Path: TradeOffs.Path(values, metrics));
        }).ToList();
        var onFront = ParetoFront.Mark([.. placed.Select(p => p.Point)]);
        var best = ParetoFront.BestWithin([.. placed.Select(p => p.Point)], choice.MaxForgetting);
        var responses = placed.Select((p, i) => new TradeOffJobResponse(
            p.Job.Id, p.Job.Name, p.Job.Status, p.Job.Spec.Method,
            p.Job.Spec.Method == FineTuneMethod.Lora ? p.Job.Spec.Lora?.Rank : null, p.Job.Spec.Hyperparameters?.LearningRate,
            coordinates?.GetValueOrDefault(p.Job.Id), p.Point?.Learning, p.Point?.Forgetting, onFront[i], p.Path)).ToList();
        var front = placed.Where((_, i) => onFront[i]).OrderBy(p => p.Point!.Value.Forgetting).ThenByDescending(p => p.Point!.Value.Learning)
            .Select(p => p.Job.Id).ToList();
        return (new TradeOffPlane(jobs.FirstOrDefault()?.Spec.BaseModel, metrics,
            new MeasuredMetricsResponse(measuredLearning, measuredForgetting), choice.MaxForgetting,
            best is { } b ? placed[b].Job.Id : null, front, responses), errors);
    }

    private static string? Pick(string? asked, string field, IReadOnlyList<string> measured, string sets, Dictionary<string, string[]> errors)
    {
        if (asked is null) return TradeOffs.DefaultMetric(measured);
        if (measured.Contains(asked)) return asked;
        errors[field] = [measured.Count == 0
            ? $"'{asked}' is not measured: the jobs have no {sets} sets."
            : $"'{asked}' is not measured on the {sets} sets; they measure: {string.Join(", ", measured)}."];
        return null;
    }

    /// <summary>What one side's sets measure: by their formats, and what the points show (a set since deleted still counts).</summary>
    private static async Task<IReadOnlyList<string>> MeasuredAsync(LoraDbContext db, IReadOnlyList<FineTuneJob> jobs,
        Dictionary<Guid, IReadOnlyList<MetricValue>> points, string role, Func<FineTuneJob, IReadOnlyList<string>?> sets, CancellationToken ct)
    {
        var ids = jobs.SelectMany(j => sets(j) ?? []).Select(r => Guid.TryParse(r, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).Distinct().ToList();
        var formats = await db.Datasets.AsNoTracking().Where(d => ids.Contains(d.Id)).Select(d => d.Format).Distinct().ToListAsync(ct);
        var measured = formats.SelectMany(JobSpecValidator.MetricsOf).ToHashSet(StringComparer.Ordinal);
        foreach (var value in points.Values.SelectMany(v => v))
            if (MetricNames.TryParseEval(value.Name, out var r, out _, out var metric) && r == role) measured.Add(metric);
        return [.. measured.OrderBy(TradeOffs.Order).ThenBy(m => m, StringComparer.Ordinal)];
    }
}
