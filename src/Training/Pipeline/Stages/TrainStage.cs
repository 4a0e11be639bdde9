using LoraService.Contracts;
using LoraService.Training.Loop;
using LoraService.Training.Models;
using LoraService.Training.Pipeline.Budget;
using TorchSharp.Modules;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>
/// Train: the trainer's loop from the resume point, evaluating at step 0 (fresh start), every N steps and at the end,
/// checkpointing as the job asks; every metric goes to the journal and the observer. A forgetting budget may stop training
/// early and choose which step's weights are exported (<see cref="BudgetStage"/>).
/// </summary>
internal static class TrainStage
{
    /// <returns><see cref="RunOutcome.Completed"/> when trained and ready to export (no files yet); otherwise the run's
    /// final result (cancelled, or no steps).</returns>
    public static FineTuneRunResult Run(RunContext run, CausalLM model, IReadOnlyList<(string Name, Parameter Parameter)> trainable,
        PreparedData data, EvaluationSets evals, MetricsJournal journal, ResumePoint resume, Action<int> knownTotalSteps)
    {
        var (observer, ct) = (run.Observer, run.Cancellation);
        resume.Announce(run, journal, evals);
        var priorSeconds = resume.PriorSeconds(journal);
        var evaluationSeconds = journal.Records.LastOrDefault(r => r.Name == MetricNames.EvaluationSeconds)?.Value ?? 0;
        using var budget = BudgetStage.Start(run, journal);

        IReadOnlyDictionary<string, double> Evaluate(int step)
        {
            // The resumed sitting's final evaluation may fall on the checkpoint's step, which the journal already holds.
            var known = journal.Records.Where(r => r.Step == step && r.Name.StartsWith("eval/", StringComparison.Ordinal)).ToList();
            if (step == resume.Step && known.Count > 0)
                return known.GroupBy(r => r.Name).ToDictionary(g => g.Key, g => g.Last().Value);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (measurements, samples) = evals.Measure();
            evaluationSeconds += clock.Elapsed.TotalSeconds;
            journal.Append(step, measurements.Select(m => (MetricNames.Eval(m.Role, m.DatasetId, m.Metric), m.Value))
                .Append((MetricNames.EvaluationSeconds, evaluationSeconds)));
            observer.OnEvaluation(step, measurements);
            if (samples.Count > 0)
                observer.OnSamples(step, samples);
            budget.OnEvaluated(step);
            return measurements.ToDictionary(m => MetricNames.Eval(m.Role, m.DatasetId, m.Metric), m => m.Value);
        }

        void OnStep(TrainingProgress progress)
        {
            var adjusted = progress with { Elapsed = TimeSpan.FromSeconds(priorSeconds) + progress.Elapsed };
            journal.Append(progress.Step,
            [
                (MetricNames.TrainLoss, progress.Loss),
                (MetricNames.LearningRate, progress.LearningRate),
                (MetricNames.GradNorm, progress.GradNorm),
                (MetricNames.TokensPerSecond, progress.TokensPerSecond),
                (MetricNames.TokensSeen, progress.TokensSeen),
                (MetricNames.Epoch, progress.Epoch),
                (MetricNames.ElapsedSeconds, adjusted.Elapsed.TotalSeconds),
            ]);
            knownTotalSteps(progress.TotalSteps);
            observer.OnStep(adjusted);
        }

        var callbacks = new TrainerCallbacks(
            OnStep: OnStep,
            Evaluate: evals.Any ? Evaluate : null,
            OnCheckpoint: observer.OnCheckpoint);
        var device = model.parameters().First().device;
        var result = Trainer.Train(model, trainable, data.Training.Examples, Options(run), data.Tokenizer.Special.PaddingId, device,
            callbacks, resume.Checkpoint, budget.TrainingToken);
        var tokensSeen = (long)(journal.Records.Where(r => r.Name == MetricNames.TokensSeen).MaxBy(r => r.Step)?.Value ?? 0);
        return budget.Settle(result, tokensSeen, trainable) ?? Outcome(run, result, tokensSeen);
    }

    private static TrainerOptions Options(RunContext run)
    {
        var (job, h) = (run.Job, run.Job.Hyperparameters);
        return new TrainerOptions(
            MicroBatchSize: h.MicroBatchSize,
            GradientAccumulationSteps: h.GradientAccumulationSteps,
            Epochs: h.Epochs,
            MaxSteps: h.MaxSteps,
            Optimizer: new AdamWOptions(LearningRate: h.LearningRate!.Value, WeightDecay: h.WeightDecay,
                LoraPlusRatio: job.Lora?.LoraPlusRatio is { } ratio && ratio != 1.0 ? ratio : null),
            Schedule: new ScheduleOptions(h.Schedule, h.WarmupRatio, h.WarmupSteps, h.MinLearningRateRatio),
            MaxGradNorm: h.GradientClip,
            Seed: h.Seed,
            EvalEvery: job.Evaluation.EveryNSteps,
            CheckpointEvery: job.CheckpointEvery,
            CheckpointDirectory: Path.Combine(run.Spec.WorkDirectory, RunLayout.CheckpointsFolder),
            KeepCheckpoints: job.KeepCheckpoints,
            CheckpointOnCancel: true,
            EvaluateBeforeTraining: true);
    }

    private static FineTuneRunResult Outcome(RunContext run, TrainingResult result, long tokensSeen)
    {
        if (result.Outcome == TrainingOutcome.Cancelled)
        {
            run.Info(result.LastCheckpoint is { } last
                ? $"Cancelled after step {result.StepsCompleted}; checkpoint {last}"
                : $"Cancelled after step {result.StepsCompleted}, before any checkpoint");
            return new FineTuneRunResult(RunOutcome.Cancelled, result.StepsCompleted, result.TotalSteps, tokensSeen, []);
        }
        if (result.StepsCompleted == 0)
            return new FineTuneRunResult(RunOutcome.NoSteps, 0, result.TotalSteps, 0, []);
        if (run.Cancellation.IsCancellationRequested)
        {
            // Trained, not exported: the resumed sitting restores the last checkpoint, evaluates if needed, and exports.
            run.Info($"Cancelled before export after step {result.StepsCompleted}; last checkpoint {result.LastCheckpoint ?? "(none)"}");
            return new FineTuneRunResult(RunOutcome.Cancelled, result.StepsCompleted, result.TotalSteps, tokensSeen, []);
        }
        return new FineTuneRunResult(RunOutcome.Completed, result.StepsCompleted, result.TotalSteps, tokensSeen, []);
    }
}
