using LoraService.Contracts.Jobs;
using LoraService.Training.Loop;
using LoraService.Training.Pipeline.Stages;
using TorchSharp.Modules;

namespace LoraService.Training.Pipeline.Budget;

/// <summary>
/// The forgetting budget during and after training. stop: the first evaluation over the budget ends training, and the
/// last evaluated checkpoint within it is exported. select: training runs to the end, and the evaluated checkpoint with
/// the most learning within the budget is exported. Either fails the job (<see cref="ForgettingBudgetException"/>) when no
/// evaluated step after the base model is within the budget.
/// </summary>
internal sealed class BudgetStage : IDisposable
{
    private readonly RunContext _run;
    private readonly BudgetWatch? _watch;
    private readonly CancellationTokenSource _stop;
    private int? _crossed;

    private BudgetStage(RunContext run, BudgetWatch? watch)
    {
        (_run, _watch) = (run, watch);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation);
        // A resumed sitting of a job that already crossed its budget trains no further.
        if (watch is { Budget.Action: BudgetAction.Stop } && watch.FirstCrossing() is { } crossed)
        {
            _crossed = crossed;
            _stop.Cancel();
        }
    }

    public static BudgetStage Start(RunContext run, MetricsJournal journal) =>
        new(run, run.Job.ForgettingBudget is { } budget ? new BudgetWatch(budget, journal) : null);

    /// <summary>The trainer's token: the run's own, plus the budget's stop.</summary>
    public CancellationToken TrainingToken => _stop.Token;

    public void OnEvaluated(int step)
    {
        if (_watch is null || step == 0 || _crossed is not null || _watch.Within(step)) return;
        _crossed = step;
        if (_watch.Budget.Action == BudgetAction.Stop)
        {
            _run.Observer.OnForgettingBudgetExceeded(step, $"Forgetting budget crossed: {_watch.Describe(step)}; training stops and the last evaluated step within it is exported");
            _stop.Cancel();
        }
        else
        {
            _run.Observer.OnForgettingBudgetExceeded(step, $"Forgetting budget crossed: {_watch.Describe(step)}; training goes on, and the best step within it is exported at the end");
        }
    }

    /// <returns>The result to export from when the budget decides which weights to export (they are restored in place);
    /// null when it changes nothing.</returns>
    public FineTuneRunResult? Settle(TrainingResult result, long tokensSeen, IReadOnlyList<(string Name, Parameter Parameter)> trainable)
    {
        if (_watch is null || _run.Cancellation.IsCancellationRequested) return null;
        var root = Path.Combine(_run.Spec.WorkDirectory, RunLayout.CheckpointsFolder);
        bool Restorable(int step) => File.Exists(Path.Combine(TrainingCheckpoint.DirectoryFor(root, step), TrainingCheckpoint.StateFile));

        int chosen;
        string reason;
        if (_watch.Budget.Action == BudgetAction.Stop)
        {
            if (_crossed is not { } crossed) return null;
            chosen = _watch.LastWithinBefore(crossed, Restorable) ?? throw new ForgettingBudgetException(
                $"The first evaluation after the base model was already over the forgetting budget ({_watch.Describe(crossed)}); nothing within it to export.");
            reason = $"forgetting_budget: stopped at step {crossed} ({_watch.Describe(crossed)}); exported step {chosen}, the last evaluated within the budget";
        }
        else
        {
            if (result.Outcome != TrainingOutcome.Completed || result.StepsCompleted == 0) return null;
            var last = result.StepsCompleted;
            chosen = _watch.BestWithin(s => s == last || Restorable(s)) ?? throw new ForgettingBudgetException(
                $"No evaluated step after the base model stayed within the forgetting budget of {_watch.Budget.Max} on {_watch.Budget.Metric}; nothing to export.");
            reason = $"forgetting_budget: exported step {chosen}, the most learning within the budget ({_watch.Describe(chosen)})";
        }
        if (chosen != result.StepsCompleted)
            TrainingCheckpoint.LoadWeights(TrainingCheckpoint.DirectoryFor(root, chosen), trainable);
        _run.Info($"Exporting step {chosen}: {reason}");
        return new FineTuneRunResult(RunOutcome.Completed, result.StepsCompleted, result.TotalSteps, tokensSeen, [], new ExportChoice(chosen, reason));
    }

    public void Dispose() => _stop.Dispose();
}
