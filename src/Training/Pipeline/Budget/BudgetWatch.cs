using LoraService.Contracts;
using LoraService.Contracts.Jobs;

namespace LoraService.Training.Pipeline.Budget;

/// <summary>
/// A job's forgetting budget judged on its metric journal: at each evaluated step, forgetting and learning as the summary
/// defines them (mean change over the source / target sets against step 0), from the evaluations up to that step.
/// Learning is measured on the budget's metric where the target sets produce it, else on loss.
/// </summary>
internal sealed class BudgetWatch(ForgettingBudget budget, MetricsJournal journal)
{
    public ForgettingBudget Budget => budget;

    public IReadOnlyList<int> EvaluatedSteps => journal.Records
        .Where(r => r.Name.StartsWith("eval/", StringComparison.Ordinal)).Select(r => r.Step).Distinct().Order().ToList();

    /// <returns>Null when the step has no evaluation of the budget's metric on a source set.</returns>
    public (double Learning, double Forgetting)? At(int step)
    {
        var sides = LearningAndForgetting.From(journal.Records
            .Where(r => r.Step <= step && r.Name.StartsWith("eval/", StringComparison.Ordinal))
            .Select(r => new MetricValue(r.Name, r.Step, r.Value)));
        if (!sides.Forgetting.TryGetValue(budget.Metric, out var forgetting)) return null;
        var learning = sides.Learning.TryGetValue(budget.Metric, out var own) ? own
            : sides.Learning.TryGetValue("loss", out var loss) ? loss : 0;
        return (learning, forgetting);
    }

    public bool Within(int step) => At(step) is { } v && v.Forgetting <= budget.Max;

    /// <summary>The first evaluated step after the base model whose forgetting is over the budget.</summary>
    public int? FirstCrossing() => EvaluatedSteps.Where(s => s > 0).Select(s => (int?)s).FirstOrDefault(s => !Within(s!.Value));

    /// <summary>stop: the last evaluated step before <paramref name="crossed"/> that is within the budget and can be restored.</summary>
    public int? LastWithinBefore(int crossed, Func<int, bool> restorable) =>
        EvaluatedSteps.Where(s => s > 0 && s < crossed && Within(s) && restorable(s)).Select(s => (int?)s).LastOrDefault();

    /// <summary>select: the evaluated step with the most learning among those within the budget that can be restored.</summary>
    public int? BestWithin(Func<int, bool> restorable) =>
        EvaluatedSteps.Where(s => s > 0 && Within(s) && restorable(s)).Select(s => (int?)s).MaxBy(s => At(s!.Value)!.Value.Learning);

    public string Describe(int step) => At(step) is { } v
        ? $"{budget.Metric} forgetting {v.Forgetting:F4} (budget {budget.Max}), learning {v.Learning:F4} at step {step}"
        : $"no {budget.Metric} measured on the source sets at step {step}";
}
