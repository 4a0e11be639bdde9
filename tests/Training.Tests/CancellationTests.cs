using LoraService.Contracts.Jobs;
using System.Text.Json;
using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Training.Evaluation;
using LoraService.Training.Models;
using LoraService.Training.Pipeline;
using LoraService.Tokenization;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>A cancel reaches every long phase: evaluators, generation, and each phase of a fine-tune run.</summary>
public sealed class CancellationTests
{
    private static readonly double[][] Table = [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]];
    private static readonly CancellationToken Cancelled = new(canceled: true);

    [Fact]
    public void A_cancelled_token_stops_each_evaluator_before_its_first_batch()
    {
        using var model = new BigramModel(Table);
        TokenizedExample[] examples = [new([0, 1, 1, 2], [-100, 1, 1, 2])];
        Assert.Throws<OperationCanceledException>(() => LossEvaluator.Evaluate(model, examples, 1, 0, CPU, Cancelled));

        MultipleChoiceExample[] questions = [new("a", ["b", "cc"], 1)];
        Assert.Throws<OperationCanceledException>(() =>
            MultipleChoiceEvaluator.Evaluate(model, new LetterTokenizer(), questions, CPU, new MultipleChoiceOptions(Delimiter: ""), Cancelled));

        var generated = 0;
        Assert.Throws<OperationCanceledException>(() => ExactMatchEvaluator.Evaluate(new LetterTokenizer(), [new ExactMatchExample("ab", "c")],
            (_, _) => { generated++; return [[2]]; }, cancellationToken: Cancelled));
        Assert.Equal(0, generated);
        Assert.True(model.training, "the evaluators restore the training mode when cancelled");
    }

    [Fact]
    public void A_cancel_stops_greedy_generation_between_tokens_and_each_token_is_progress()
    {
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);
        Assert.Throws<OperationCanceledException>(() => model.GenerateGreedy([1, 2, 3], 50, cancellationToken: Cancelled));

        using var cancel = new CancellationTokenSource();
        var before = RunPulse.Beats;
        var tokens = model.GenerateGreedy([1, 2, 3], 5, cancellationToken: cancel.Token);
        Assert.Equal(5, tokens.Length);
        Assert.True(RunPulse.Beats - before >= 5);
    }

    [Fact]
    public void A_cancel_stops_batched_generation_before_its_first_step()
    {
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);
        Assert.Throws<OperationCanceledException>(() => BatchedGreedy.Generate(model, [[1, 2, 3], [4]], 50, cancellationToken: Cancelled));
    }

    [Fact]
    public void A_run_cancelled_during_the_step_0_evaluation_returns_cancelled_promptly_without_a_step_or_checkpoint()
    {
        using var dir = new TempDir();
        var model = dir["llama"];
        ModelFactory.WriteCheckpoint(model, ModelFactory.TinyLlama(), seed: 1);
        var rows = Enumerable.Range(0, 3000).Select(i => JsonSerializer.Serialize(new { prompt = $"Q{i % 10}: tell me something long", completion = $" #### {i % 10} and more" }));
        File.WriteAllLines(dir["train.jsonl"], rows.Take(16));
        File.WriteAllLines(dir["valid.jsonl"], rows); // a baseline long enough to be interrupted
        var spec = TinyRunSpec.Lora(dir, model, 4, new EvaluationSettings { MaxExamples = 3000 });
        using var cancel = new CancellationTokenSource();
        var steps = new List<int>();
        var evaluations = new List<int>();
        var checkpoints = new List<int>();
        var observer = new FineTuneCallbacks(onStep: p => steps.Add(p.Step), onEvaluation: (s, _) => evaluations.Add(s),
            onCheckpoint: (s, _) => checkpoints.Add(s));
        var watcher = new Thread(() =>
        {
            while (RunPulse.Phase != RunPulse.Evaluating) Thread.SpinWait(100);
            cancel.Cancel();
        }) { IsBackground = true };
        watcher.Start();

        var result = FineTuneRun.Execute(spec, observer, cancel.Token);

        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
        Assert.Equal(0, result.StepsCompleted);
        Assert.Empty(result.Files);
        Assert.Empty(steps);
        Assert.Empty(evaluations);
        Assert.Empty(checkpoints);
        Assert.False(Directory.Exists(spec.OutputDirectory) && Directory.EnumerateFileSystemEntries(spec.OutputDirectory).Any());

        // The next sitting starts over: baseline first, then every step.
        var resumed = FineTuneRun.Execute(spec, observer);
        Assert.Equal(RunOutcome.Completed, resumed.Outcome);
        Assert.Equal([1, 2, 3, 4], steps);
        Assert.Equal(0, evaluations[0]);
    }

    [Fact]
    public void A_run_cancelled_before_it_loads_anything_returns_cancelled_and_never_throws()
    {
        using var dir = new TempDir();
        var spec = new FineTuneRunSpec
        {
            Job = new JobSpec { BaseModel = "missing", TrainingDataset = "train" },
            ModelDirectory = dir["missing-model"],
            BaseModelName = "missing",
            Datasets = new Dictionary<string, RunDataset> { ["train"] = new(Guid.NewGuid(), "train", dir["missing.jsonl"], DatasetFormat.PromptCompletion) },
            WorkDirectory = dir["work"],
            OutputDirectory = dir["out"],
        };
        var result = FineTuneRun.Execute(spec, null, Cancelled);
        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
    }
}
