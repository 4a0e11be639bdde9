using LoraService.Contracts.Jobs;
using LoraService.Tokenization.Examples;
using LoraService.Training.Data;
using LoraService.Training.Evaluation;
using LoraService.Training.Loop;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class TrainerTests
{
    private const int Vocab = 12;

    /// <summary>Cyclic sequences: token t is always followed by (t + 1) mod 10, so the next token is learnable.</summary>
    private static List<TokenizedExample> CyclicData(int count, int length = 8)
    {
        var random = new Random(3);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var start = random.Next(10);
            var ids = Enumerable.Range(0, length - random.Next(3)).Select(i => (start + i) % 10).ToArray();
            return new TokenizedExample(ids, (int[])ids.Clone());
        }).ToList();
    }

    private static TrainerOptions Options(int steps = 12) => new(
        MicroBatchSize: 4, GradientAccumulationSteps: 2, MaxSteps: steps,
        Optimizer: new AdamWOptions(LearningRate: 0.05, WeightDecay: 0.01),
        Schedule: new ScheduleOptions(ScheduleKind.Cosine, WarmupSteps: 2), Seed: 5);

    private static TrainingResult Run(TinyLanguageModel model, TrainerOptions options, string? resumeFrom = null,
        TrainerCallbacks? callbacks = null, CancellationToken token = default) =>
        Trainer.Train(model, model.Trainable(), CyclicData(32), options, padId: 11, CPU, callbacks, resumeFrom, token);

    private static double[] Losses(TrainingResult result) => result.History.Select(p => p.Loss).ToArray();

    [Fact]
    public void Loss_falls_on_a_learnable_dataset()
    {
        using var model = new TinyLanguageModel(Vocab);
        var result = Run(model, Options(steps: 40));

        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        Assert.Equal(40, result.StepsCompleted);
        // Default init: head weights and bias U(±1/√16) on tanh features in (−1, 1), so the logits' spread is σ ≤ √(17/48)
        // ≈ 0.6 and the first loss is ln(12) within ± 0.4 (σ²/2 above it, a chance lean towards the targets below it).
        var first = result.History[0].Loss;
        Assert.InRange(first, LossBounds.Uniform(Vocab) - 0.4, LossBounds.Uniform(Vocab) + 0.4);
        // Trained, the model beats every predictor that ignores the current token: it learnt the cycle.
        var data = CyclicData(32);
        var final = LossEvaluator.Evaluate(model, data, 8, padId: 11, CPU)["loss"];
        Assert.True(final < LossBounds.ContextFree(data), $"loss went from {first} to {final}; context-free floor {LossBounds.ContextFree(data)}");
    }

    [Fact]
    public void Same_seed_gives_the_same_losses_with_dropout()
    {
        using var a = new TinyLanguageModel(Vocab, dropoutRate: 0.2);
        using var b = new TinyLanguageModel(Vocab, dropoutRate: 0.2);
        var lossesA = Losses(Run(a, Options(steps: 6)));
        var lossesB = Losses(Run(b, Options(steps: 6)));
        Assert.Equal(lossesA, lossesB);

        using var c = new TinyLanguageModel(Vocab, dropoutRate: 0.2);
        Assert.NotEqual(lossesA, Losses(Run(c, Options(steps: 6) with { Seed = 6 })));
    }

    [Fact]
    public void Resuming_from_a_checkpoint_reproduces_the_uninterrupted_losses()
    {
        var directory = Directory.CreateTempSubdirectory("ckpt-").FullName;
        var options = Options(steps: 10) with { CheckpointEvery = 4, CheckpointDirectory = directory, Shuffle = true };

        using var uninterrupted = new TinyLanguageModel(Vocab, dropoutRate: 0.3);
        var full = Losses(Run(uninterrupted, options));
        var checkpoint = Path.Combine(directory, "checkpoint-00000004");
        Assert.True(File.Exists(Path.Combine(checkpoint, TrainingCheckpoint.StateFile)));
        Assert.Empty(Directory.GetDirectories(directory, ".tmp-*"));

        // A different initialisation and RNG position: everything must come from the checkpoint.
        using var resumed = new TinyLanguageModel(Vocab, dropoutRate: 0.3, seed: 99);
        var rest = Run(resumed, options with { CheckpointDirectory = Directory.CreateTempSubdirectory("ckpt2-").FullName }, resumeFrom: checkpoint);

        Assert.Equal(10, rest.StepsCompleted);
        Assert.Equal(Enumerable.Range(5, 6), rest.History.Select(p => p.Step));
        Assert.Equal(full[4..], Losses(rest));
    }

    [Fact]
    public void Resume_mid_epoch_with_epochs_accumulation_and_shuffling()
    {
        // 30 examples, micro-batch 4 → 8 micro-batches per epoch; accumulation 3 → steps straddle epoch ends.
        var data = CyclicData(30);
        var directory = Directory.CreateTempSubdirectory("ckpt-epochs-").FullName;
        var options = new TrainerOptions(MicroBatchSize: 4, GradientAccumulationSteps: 3, Epochs: 3, Seed: 8,
            CheckpointEvery: 3, CheckpointDirectory: directory, Optimizer: new AdamWOptions(LearningRate: 0.02));

        using var uninterrupted = new TinyLanguageModel(Vocab, dropoutRate: 0.1);
        var full = Trainer.Train(uninterrupted, uninterrupted.Trainable(), data, options, 11, CPU);
        Assert.Equal(8, full.TotalSteps);   // ceil(24 / 3)

        using var resumed = new TinyLanguageModel(Vocab, dropoutRate: 0.1, seed: 3);
        var rest = Trainer.Train(resumed, resumed.Trainable(), data, options with { CheckpointEvery = 0 }, 11, CPU,
            resumeFrom: Path.Combine(directory, "checkpoint-00000003"));

        Assert.Equal(Losses(full)[3..], Losses(rest));
        Assert.Equal(3.0, rest.History[^1].Epoch, 12);
        Assert.Throws<InvalidOperationException>(() => Trainer.Train(resumed, resumed.Trainable(), data, options with { Seed = 9 }, 11, CPU,
            resumeFrom: Path.Combine(directory, "checkpoint-00000006")));
    }

    [Fact]
    public void Cancellation_stops_at_a_step_boundary_and_checkpoints()
    {
        var directory = Directory.CreateTempSubdirectory("ckpt-cancel-").FullName;
        using var cts = new CancellationTokenSource();
        using var model = new TinyLanguageModel(Vocab);
        var callbacks = new TrainerCallbacks(OnStep: p => { if (p.Step == 3) cts.Cancel(); });

        var result = Run(model, Options(steps: 10) with { CheckpointDirectory = directory }, callbacks: callbacks, token: cts.Token);

        Assert.Equal(TrainingOutcome.Cancelled, result.Outcome);
        Assert.Equal(3, result.StepsCompleted);
        Assert.Equal(Path.Combine(directory, "checkpoint-00000003"), result.LastCheckpoint);
    }

    [Fact]
    public void Progress_reports_every_step_and_evaluation_runs_every_n_steps_and_at_the_end()
    {
        using var model = new TinyLanguageModel(Vocab);
        var progress = new List<TrainingProgress>();
        var trainingFlags = new List<bool>();
        var callbacks = new TrainerCallbacks(
            OnStep: progress.Add,
            Evaluate: step =>
            {
                trainingFlags.Add(model.training || is_grad_enabled());
                return new Dictionary<string, double> { ["step"] = step };
            });

        var result = Run(model, Options(steps: 7) with { EvalEvery = 3, EvaluateBeforeTraining = true }, callbacks: callbacks);

        Assert.Equal(Enumerable.Range(1, 7), progress.Select(p => p.Step));
        Assert.All(progress, p =>
        {
            Assert.Equal(7, p.TotalSteps);
            Assert.True(p.GradNorm > 0);
            Assert.True(p.TokensPerSecond > 0);
        });
        Assert.Equal(0.0, progress[0].LearningRate);            // warmup starts at 0 (step 0 of 2)
        Assert.Equal(0.025, progress[1].LearningRate, 12);      // 1/2 of peak
        Assert.Equal(0.05, progress[2].LearningRate, 12);       // peak, cosine progress 0
        Assert.True(progress[^1].TokensSeen > progress[0].TokensSeen);
        Assert.Equal(TimeSpan.Zero, progress[^1].Eta);
        Assert.Equal(1.0, progress[3].Epoch, 12);               // 4 steps × 2 micro-batches × 4 = 32 examples
        Assert.Equal([0, 3, 6, 7], result.Evaluations.Select(e => e.Step));
        Assert.All(trainingFlags, flag => Assert.False(flag));
        Assert.True(model.training);
    }

    [Fact]
    public void Accumulation_normalises_over_the_whole_accumulated_batch()
    {
        // Without dropout, 2 micro-batches of 4 with accumulation == 1 batch of 8: same loss and same update.
        var data = CyclicData(8);
        using var a = new TinyLanguageModel(Vocab);
        using var b = new TinyLanguageModel(Vocab);
        var options = new TrainerOptions(MicroBatchSize: 4, GradientAccumulationSteps: 2, MaxSteps: 3, Shuffle: false,
            Optimizer: new AdamWOptions(LearningRate: 0.05));
        var accumulated = Trainer.Train(a, a.Trainable(), data, options, 11, CPU);
        var whole = Trainer.Train(b, b.Trainable(), data, options with { MicroBatchSize = 8, GradientAccumulationSteps = 1 }, 11, CPU);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(whole.History[i].Loss, accumulated.History[i].Loss, 5);
            Assert.Equal(whole.History[i].GradNorm, accumulated.History[i].GradNorm, 5);
        }
    }

    /// <summary>
    /// The gradient the optimizer applied in one step, read back from the update: AdamW's first step is
    /// Δ = −lr·g / (|g| + eps) per element (the bias corrections cancel: m̂ = g, √v̂ = |g|), so g = −Δ·eps / (lr − |Δ|).
    /// An eps of the order of |g| keeps that inversion well conditioned.
    /// </summary>
    private static (double[] Applied, double Reported) AppliedGradient(double maxGradNorm)
    {
        const double lr = 1.0, eps = 1.0;
        using var model = new TinyLanguageModel(Vocab);
        var before = model.Trainable().Select(p => p.Parameter.detach().clone()).ToList();
        var options = new TrainerOptions(MicroBatchSize: 8, MaxSteps: 1, MaxGradNorm: maxGradNorm,
            Optimizer: new AdamWOptions(LearningRate: lr, WeightDecay: 0, Epsilon: eps), Schedule: new ScheduleOptions(ScheduleKind.Constant));
        var result = Trainer.Train(model, model.Trainable(), CyclicData(8), options, 11, CPU);
        var applied = model.Trainable().Zip(before).SelectMany(p =>
        {
            using var delta = (p.First.Parameter.detach() - p.Second).to_type(ScalarType.Float64).flatten();
            return delta.data<double>().ToArray().Select(d => -d * eps / (lr - Math.Abs(d)));
        }).ToArray();
        return (applied, result.History[0].GradNorm);
    }

    private static double Norm(double[] vector) => Math.Sqrt(vector.Sum(x => x * x));

    [Fact]
    public void Gradient_clipping_scales_the_applied_gradient_to_max_norm_and_reports_the_norm_before_it()
    {
        var (raw, rawNorm) = AppliedGradient(maxGradNorm: 0);   // 0: no clipping
        Assert.Equal(rawNorm, Norm(raw), rawNorm * 1e-4);

        var maxNorm = rawNorm / 4;
        var (clipped, reported) = AppliedGradient(maxNorm);
        Assert.Equal(rawNorm, reported, rawNorm * 1e-6);
        Assert.Equal(maxNorm, Norm(clipped), maxNorm * 1e-4);
        Assert.Equal(raw.Select(g => g * maxNorm / rawNorm), clipped, (a, b) => Math.Abs(a - b) <= maxNorm * 1e-4);

        // A limit above the norm leaves the gradient alone.
        var (unclipped, _) = AppliedGradient(rawNorm * 4);
        Assert.Equal(raw, unclipped, (a, b) => Math.Abs(a - b) <= rawNorm * 1e-4);
    }

    [Fact]
    public void Epochs_without_max_steps_cover_the_data_exactly()
    {
        using var model = new TinyLanguageModel(Vocab);
        // 10 examples, micro-batch 4 → 3 micro-batches per epoch; 2 epochs, accumulation 2 → ceil(6/2) = 3 steps.
        var options = new TrainerOptions(MicroBatchSize: 4, GradientAccumulationSteps: 2, Epochs: 2);
        var result = Trainer.Train(model, model.Trainable(), CyclicData(10), options, 11, CPU);
        Assert.Equal(3, result.TotalSteps);
        Assert.Equal(2.0, result.History[^1].Epoch, 12);
    }
}

public sealed class TrainerIntegrationTests
{
    [Fact]
    public void Only_the_given_parameters_change_and_the_loss_evaluator_sees_learning()
    {
        using var model = new TinyLanguageModel(12);
        var all = model.Trainable();
        var frozen = all.Where(p => p.Name.StartsWith("embed")).ToList();
        foreach (var (_, parameter) in frozen) parameter.requires_grad = false;
        var before = frozen.Select(p => p.Parameter.detach().clone()).ToList();
        var data = Enumerable.Range(0, 16)
            .Select(i => Enumerable.Range(0, 8).Select(t => (i + t) % 10).ToArray())
            .Select(ids => new TokenizedExample(ids, ids)).ToList();
        var options = new TrainerOptions(MicroBatchSize: 8, MaxSteps: 30, EvalEvery: 10,
            Optimizer: new AdamWOptions(LearningRate: 0.05));

        var result = Trainer.Train(model, all.Except(frozen).ToList(), data, options, padId: 11, TrainingDevice.Select(preferCuda: false),
            new TrainerCallbacks(Evaluate: _ => LossEvaluator.Evaluate(model, data, 8, 11, CPU)));

        Assert.All(frozen.Zip(before), p => Assert.True(p.First.Parameter.equal(p.Second).all().item<bool>()));
        var losses = result.Evaluations.Select(e => e.Metrics["loss"]).ToList();
        Assert.Equal([10, 20, 30], result.Evaluations.Select(e => e.Step));
        Assert.True(losses[2] < losses[0], string.Join(", ", losses));
    }

    [Fact]
    public void Checkpoints_are_pruned_and_latest_finds_the_newest_complete_one()
    {
        var directory = Directory.CreateTempSubdirectory("ckpt-prune-").FullName;
        Directory.CreateDirectory(Path.Combine(directory, "checkpoint-00000009")); // incomplete: no trainer_state.json
        Directory.CreateDirectory(Path.Combine(directory, ".tmp-crashed"));
        using var model = new TinyLanguageModel(12);
        var data = Enumerable.Range(0, 8).Select(i => new TokenizedExample([i, i + 1, i + 2], [i, i + 1, i + 2])).ToList();
        var steps = new List<int>();
        var options = new TrainerOptions(MicroBatchSize: 4, MaxSteps: 6, CheckpointEvery: 2, CheckpointDirectory: directory, KeepCheckpoints: 2);

        var result = Trainer.Train(model, model.Trainable(), data, options, 11, CPU, new TrainerCallbacks(OnCheckpoint: (step, _) => steps.Add(step)));

        Assert.Equal([2, 4, 6], steps);
        Assert.Equal(Path.Combine(directory, "checkpoint-00000006"), result.LastCheckpoint);
        Assert.Equal(Path.Combine(directory, "checkpoint-00000006"), TrainingCheckpoint.Latest(directory));
        Assert.Equal(["checkpoint-00000006", "checkpoint-00000009"],
            Directory.GetDirectories(directory).Select(Path.GetFileName).Order());
    }
}

public sealed class TrainerArgumentTests
{
    [Fact]
    public void Checkpoint_interval_without_a_directory_is_refused()
    {
        using var model = new TinyLanguageModel(12);
        var data = new List<TokenizedExample> { new([1, 2, 3], [1, 2, 3]) };
        var error = Assert.Throws<ArgumentException>(() =>
            Trainer.Train(model, model.Trainable(), data, new TrainerOptions(CheckpointEvery: 5), 0, CPU));
        Assert.StartsWith("CheckpointEvery needs a CheckpointDirectory", error.Message);
        Assert.Throws<ArgumentException>(() => Trainer.Train(model, model.Trainable(), [], new TrainerOptions(), 0, CPU));
    }

    [Fact]
    public void Cancelled_before_the_first_step_reports_zero_steps()
    {
        using var model = new TinyLanguageModel(12);
        var data = new List<TokenizedExample> { new([1, 2, 3], [1, 2, 3]) };
        var result = Trainer.Train(model, model.Trainable(), data, new TrainerOptions(), 0, CPU,
            cancellationToken: new CancellationToken(canceled: true));
        Assert.Equal(TrainingOutcome.Cancelled, result.Outcome);
        Assert.Equal(0, result.StepsCompleted);
        Assert.Null(result.LastCheckpoint);
    }
}
