using LoraService.Contracts;
using LoraService.Training.Pipeline.Provenance;
using LoraService.Training.Spectral;

namespace LoraService.Training.Pipeline;

/// <summary><see cref="EvalComparison"/> with the set's name, for summary.json.</summary>
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
/// <param name="Provenance">The resolved job, the engine version and digests of the base model's weights and the data.</param>
/// <param name="Export">The step whose weights were exported and why, when a forgetting budget chose it (null: the last step).</param>
/// <param name="EvaluationSeconds">Time spent in evaluations (baseline, periodic and final), summed over resumed sittings.</param>
/// <param name="TrainingSeconds">Time spent in optimizer steps: <see cref="WallTimeSeconds"/> less the evaluations it includes.</param>
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
    IReadOnlyList<SpectralModuleSummary> Spectral,
    RunProvenance Provenance,
    Budget.ExportChoice? Export = null,
    double EvaluationSeconds = 0,
    double TrainingSeconds = 0)
{
    public static RunSummary Build(string method, IReadOnlyList<MetricRecord> metrics, IReadOnlyDictionary<Guid, string> setNames,
        int steps, int totalSteps, long tokensSeen, IReadOnlyList<SpectralEntry> spectral, RunProvenance provenance, Budget.ExportChoice? export = null)
    {
        var sides = LearningAndForgetting.From(metrics.Select(m => new MetricValue(m.Name, m.Step, m.Value)));
        var evaluations = sides.Evaluations
            .Select(e => new BaselineComparison(e.Role, e.Dataset, setNames.GetValueOrDefault(e.Dataset, ""), e.Metric, e.Baseline, e.Final, e.FinalStep, e.Change))
            .OrderBy(e => e.Role, StringComparer.Ordinal).ThenBy(e => e.Name, StringComparer.Ordinal)
            .ThenBy(e => e.DatasetId).ThenBy(e => e.Metric, StringComparer.Ordinal).ToList();

        var lastLoss = metrics.Where(p => p.Name == MetricNames.TrainLoss).MaxBy(p => p.Step);
        var seconds = metrics.Where(p => p.Name == MetricNames.ElapsedSeconds).MaxBy(p => p.Step)?.Value ?? 0;
        var modules = new SpectralReport(method, spectral).Modules;
        // train/elapsed_s at the last step includes every evaluation before that step, not the final one after it.
        var lastStep = metrics.Where(p => p.Name == MetricNames.ElapsedSeconds).MaxBy(p => p.Step)?.Step ?? 0;
        var evaluationTimes = metrics.Where(p => p.Name == MetricNames.EvaluationSeconds).ToList();
        var evaluationSeconds = evaluationTimes.MaxBy(p => p.Step)?.Value ?? 0;
        var evaluatedWithinSteps = evaluationTimes.Where(p => p.Step < lastStep).MaxBy(p => p.Step)?.Value ?? 0;
        return new RunSummary(method, evaluations, sides.Learning, sides.Forgetting,
            lastLoss?.Value, steps, totalSteps, tokensSeen, seconds, seconds > 0 ? tokensSeen / seconds : 0, modules, provenance, export,
            evaluationSeconds, Math.Max(0, seconds - evaluatedWithinSteps));
    }
}
