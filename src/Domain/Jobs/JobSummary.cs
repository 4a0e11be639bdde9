using LoraService.Contracts;

namespace LoraService.Domain.Jobs;

/// <summary>A job's baseline vs final evaluations with learning and forgetting, from its stored metric points.</summary>
public sealed record JobSummary(
    IReadOnlyList<EvalComparison> Evaluations,
    IReadOnlyDictionary<string, double> Learning,
    IReadOnlyDictionary<string, double> Forgetting,
    double? FinalTrainLoss,
    int Steps,
    long TokensSeen)
{
    public static JobSummary FromMetrics(IEnumerable<MetricPoint> points)
    {
        var all = points.Select(p => new MetricValue(p.Name, p.Step, p.Value)).ToList();
        var sides = LearningAndForgetting.From(all);
        var train = all.Where(p => p.Name == MetricNames.TrainLoss).MaxBy(p => p.Step);
        var tokens = all.Where(p => p.Name == MetricNames.TokensSeen).MaxBy(p => p.Step);
        return new JobSummary(sides.Evaluations, sides.Learning, sides.Forgetting, train?.Value, train?.Step ?? 0, (long)(tokens?.Value ?? 0));
    }
}
