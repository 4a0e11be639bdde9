using System.Diagnostics;
using LoraService.Tokenization.Examples;
using LoraService.Tokenization.Planning;
using LoraService.Training.Data;
using LoraService.Training.Models;
using LoraService.Training.Pipeline;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Loop;

/// <summary>
/// The training loop: setup → fit (accumulate, clip, step, report, evaluate, checkpoint) → result.
/// Synchronous on purpose: TorchSharp dispose scopes are thread-local.
/// </summary>
public static class Trainer
{
    /// <param name="model">Maps input ids <c>[B, T]</c> (int64) to logits <c>[B, T, V]</c>; already on <paramref name="device"/>.</param>
    /// <param name="trainable">The parameters to optimise, by state-dict name; everything else is left alone.</param>
    /// <param name="examples">Tokenized training examples (see <see cref="ExampleBuilder"/>).</param>
    /// <param name="padId">Token id used for right padding (never scored).</param>
    /// <param name="resumeFrom">A checkpoint directory to continue from, or null to start fresh.</param>
    public static TrainingResult Train(
        nn.Module<Tensor, Tensor> model,
        IReadOnlyList<(string Name, Parameter Parameter)> trainable,
        IReadOnlyList<TokenizedExample> examples,
        TrainerOptions options,
        int padId,
        Device device,
        TrainerCallbacks? callbacks = null,
        string? resumeFrom = null,
        CancellationToken cancellationToken = default)
    {
        // ---- setup
        if (examples.Count == 0) throw new ArgumentException("no training examples", nameof(examples));
        if (trainable.Count == 0) throw new ArgumentException("no trainable parameters", nameof(trainable));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MicroBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.GradientAccumulationSteps);
        if (options.CheckpointEvery > 0 && options.CheckpointDirectory is null)
            throw new ArgumentException("CheckpointEvery needs a CheckpointDirectory", nameof(options));
        callbacks ??= new TrainerCallbacks();

        var plan = new DataPlan(examples, options);
        var totalSteps = TrainingSteps.Total(examples.Count, options.MicroBatchSize, options.GradientAccumulationSteps,
            options.Epochs, options.MaxSteps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        var schedule = new LearningRateSchedule(options.ScheduleOrDefault, totalSteps);
        var (optimizer, groups) = OptimizerFactory.Create(trainable, options.AdamWOrDefault);
        var paramGroups = optimizer.ParamGroups.ToList();
        var parameters = trainable.Select(p => p.Parameter).ToList();

        var state = new TrainerState(0, 0, 0, totalSteps, options.Seed);
        manual_seed(options.Seed);
        if (resumeFrom is not null)
        {
            try
            {
                var saved = TrainingCheckpoint.Load(resumeFrom, trainable, optimizer);
                // The data order is derived from the seed: another seed would silently replay other examples.
                if (saved.Seed != options.Seed)
                    throw new InvalidOperationException($"checkpoint was written with seed {saved.Seed}, the options say {options.Seed}");
                state = saved with { TotalSteps = totalSteps };
            }
            catch
            {
                optimizer.Dispose();
                throw;
            }
        }

        var history = new List<TrainingProgress>();
        var evaluations = new List<EvaluationPoint>();
        string? lastCheckpoint = resumeFrom;
        var clock = Stopwatch.StartNew();
        var startStep = state.Step;
        var lastEvaluated = -1;

        string Checkpoint()
        {
            RunPulse.Enter(RunPulse.Checkpointing);
            var directory = TrainingCheckpoint.Save(options.CheckpointDirectory!, state, trainable, optimizer);
            TrainingCheckpoint.Prune(options.CheckpointDirectory!, options.KeepCheckpoints);
            callbacks.OnCheckpoint?.Invoke(state.Step, directory);
            RunPulse.Enter(RunPulse.Training);
            return directory;
        }

        // False when a cancel interrupted it (the hook threw OperationCanceledException for our token): the evaluation
        // of this step is dropped and the caller takes the cancel path, whose checkpoint re-runs it on resume.
        bool Evaluate()
        {
            if (callbacks.Evaluate is null || lastEvaluated == state.Step) return true;
            RunPulse.Enter(RunPulse.Evaluating);
            model.eval();
            try
            {
                using (no_grad())
                using (NewDisposeScope())
                    evaluations.Add(new EvaluationPoint(state.Step, callbacks.Evaluate(state.Step)));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            finally
            {
                model.train();
                RunPulse.Enter(RunPulse.Training);
            }
            lastEvaluated = state.Step;
            return true;
        }

        TrainingResult Cancelled()
        {
            if (options.CheckpointOnCancel && options.CheckpointDirectory is not null && state.Step > startStep)
                lastCheckpoint = Checkpoint();
            return new TrainingResult(TrainingOutcome.Cancelled, state.Step, totalSteps, history, evaluations, lastCheckpoint);
        }

        try
        {
            if (options.EvaluateBeforeTraining && state.Step == 0) Evaluate();
            // A sitting cancelled during a periodic evaluation checkpointed without it: run it now, on the restored
            // weights (an evaluation hook that already holds this step's results may simply return them).
            else if (resumeFrom is not null && options.EvalEvery > 0 && state.Step > 0 && state.Step < totalSteps
                     && state.Step % options.EvalEvery == 0)
                Evaluate();
            RunPulse.Enter(RunPulse.Training);
            model.train();
            // ---- fit
            while (state.Step < totalSteps)
            {
                if (cancellationToken.IsCancellationRequested)
                    return Cancelled();

                var stepClock = Stopwatch.StartNew();
                double loss = 0, gradNorm;
                var microBatches = plan.MicroBatchesForStep(state.MicroBatchPosition, options.MaxSteps is null);
                long stepTokens = 0;
                var lr = 0.0;
                using (NewDisposeScope())
                {
                    var batches = microBatches.Select(ids => Batching.Collate(ids, padId, device)).ToList();
                    // Normalise by the scored tokens of the whole accumulated batch, as Hugging Face does,
                    // so every token weighs the same whatever micro-batch it falls in.
                    var scored = Math.Max(1, batches.Sum(b => b.ScoredTokens));
                    optimizer.zero_grad();
                    foreach (var batch in batches)
                    {
                        loss += MicroBatchLoss(model, batch.InputIds, batch.Labels, scored);
                        stepTokens += batch.RealTokens;
                        RunPulse.Beat();
                    }
                    gradNorm = nn.utils.clip_grad_norm_(parameters,
                        options.MaxGradNorm > 0 ? options.MaxGradNorm : double.PositiveInfinity);
                    var factor = schedule.Factor(state.Step);
                    for (var g = 0; g < paramGroups.Count; g++)
                        paramGroups[g].LearningRate = groups[g].PeakLearningRate * factor;
                    lr = paramGroups[0].LearningRate;
                    optimizer.step();
                }
                StepGarbage.Collect();
                state = state with
                {
                    Step = state.Step + 1,
                    MicroBatchPosition = state.MicroBatchPosition + microBatches.Count,
                    TokensSeen = state.TokensSeen + stepTokens,
                };

                var elapsed = clock.Elapsed;
                var perStep = elapsed / (state.Step - startStep);
                var progress = new TrainingProgress(state.Step, totalSteps,
                    (double)state.MicroBatchPosition / plan.MicroBatchesPerEpoch, loss, lr, gradNorm,
                    stepTokens / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds), state.TokensSeen, elapsed,
                    perStep * (totalSteps - state.Step));
                history.Add(progress);
                callbacks.OnStep?.Invoke(progress);

                if (options.EvalEvery > 0 && state.Step % options.EvalEvery == 0 && !Evaluate())
                    continue; // cancelled during the evaluation: the loop head checkpoints this step
                if (options.CheckpointEvery > 0 && options.CheckpointDirectory is not null && state.Step % options.CheckpointEvery == 0)
                    lastCheckpoint = Checkpoint();
            }
            // A cancel during (or right after) the final evaluation keeps the last step as a checkpoint: the resumed
            // sitting then only evaluates and exports.
            if (!Evaluate() || (cancellationToken.IsCancellationRequested && options.CheckpointOnCancel && options.CheckpointDirectory is not null))
                return Cancelled();
            return new TrainingResult(TrainingOutcome.Completed, state.Step, totalSteps, history, evaluations, lastCheckpoint);
        }
        finally
        {
            optimizer.Dispose();
        }
    }

    /// <summary>Back-propagates one micro-batch's share of the step's loss and returns it.</summary>
    private static double MicroBatchLoss(nn.Module<Tensor, Tensor> model, Tensor inputIds, Tensor labels, double scored)
    {
        if (model is CausalLM causalLm)
            return ChunkedLmLoss.Backward(causalLm, inputIds, labels, scored);
        using var logits = model.call(inputIds);
        using var loss = CausalLmLoss.Sum(logits, labels) / scored;
        loss.backward();
        return loss.item<float>();
    }

    /// <summary>Maps a global micro-batch position to the examples it holds: epoch-by-epoch seeded order.</summary>
    private sealed class DataPlan(IReadOnlyList<TokenizedExample> examples, TrainerOptions options)
    {
        private int _cachedEpoch = -1;
        private int[] _order = [];

        public int MicroBatchesPerEpoch { get; } = TrainingSteps.MicroBatchesPerEpoch(examples.Count, options.MicroBatchSize);

        public List<List<TokenizedExample>> MicroBatchesForStep(long position, bool stopAtLastEpoch)
        {
            var end = position + options.GradientAccumulationSteps;
            if (stopAtLastEpoch) end = Math.Min(end, (long)MicroBatchesPerEpoch * options.Epochs);
            var result = new List<List<TokenizedExample>>();
            for (var p = position; p < end; p++)
            {
                var epoch = (int)(p / MicroBatchesPerEpoch);
                if (epoch != _cachedEpoch)
                {
                    _order = Batching.EpochOrder(examples.Count, options.Seed, epoch, options.Shuffle);
                    _cachedEpoch = epoch;
                }
                var start = (int)(p % MicroBatchesPerEpoch) * options.MicroBatchSize;
                var count = Math.Min(options.MicroBatchSize, examples.Count - start);
                result.Add(_order.Skip(start).Take(count).Select(i => examples[i]).ToList());
            }
            return result;
        }
    }
}
