using LoraService.Contracts.Jobs;
using System.Text.Json;
using LoraService.Datasets;
using LoraService.Training.Data;
using LoraService.Training.Checkpoints;
using LoraService.Training.Evaluation;
using LoraService.Training.Export;
using LoraService.Training.Models;
using LoraService.Training.Pipeline;
using LoraService.Tokenization;
using LoraService.Tokenization.Examples;
using LoraService.Training.Loop;
using static TorchSharp.torch;
using LoraService.Contracts;

namespace LoraService.Training.Tests;

public sealed class FineTuneRunTests
{
    static readonly Guid TrainId = Guid.Parse("11111111-1111-1111-1111-111111111111");
    internal static readonly Guid ValidationId = Guid.Parse("22222222-2222-2222-2222-222222222222");
    static readonly Guid TargetId = Guid.Parse("33333333-3333-3333-3333-333333333333");
    static readonly Guid SourceId = Guid.Parse("44444444-4444-4444-4444-444444444444");
    static readonly Guid ChatId = Guid.Parse("55555555-5555-5555-5555-555555555555");

    internal sealed class Recorder : IFineTuneObserver
    {
        public readonly List<TrainingProgress> Steps = [];
        public readonly List<(int Step, IReadOnlyList<EvalMeasurement> Measurements)> Evaluations = [];
        public readonly List<(int Step, string Directory)> Checkpoints = [];
        public readonly List<(string Level, string Message)> Events = [];
        public Action<TrainingProgress>? AfterStep;

        public void OnStep(TrainingProgress progress)
        {
            Steps.Add(progress);
            AfterStep?.Invoke(progress);
        }

        public void OnEvaluation(int step, IReadOnlyList<EvalMeasurement> measurements) => Evaluations.Add((step, measurements));
        public void OnCheckpoint(int step, string directory) => Checkpoints.Add((step, directory));
        public void OnEvent(string level, string message) => Events.Add((level, message));
        public readonly List<int> BudgetCrossings = [];
        public void OnForgettingBudgetExceeded(int step, string message)
        {
            BudgetCrossings.Add(step);
            OnEvent("warning", message);
        }
        public readonly List<(int Step, IReadOnlyList<EvalSamples> Sets)> Samples = [];
        public void OnSamples(int step, IReadOnlyList<EvalSamples> samples) => Samples.Add((step, samples));
        public readonly List<MetricRecord> Replayed = [];
        public void OnReplay(IReadOnlyList<MetricRecord> records) => Replayed.AddRange(records);

        public double Value(int step, string role, Guid id, string metric) =>
            Evaluations.Single(e => e.Step == step).Measurements.Single(m => m.Role == role && m.DatasetId == id && m.Metric == metric).Value;
    }

    internal static string Jsonl(string path, IEnumerable<object> rows)
    {
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r)));
        return path;
    }

    /// <summary>"Qk:" → " #### 2k": a mapping a tiny model can pick up; the same rows serve exact match.</summary>
    internal static FineTuneRunSpec LoraSpec(TempDir dir, string work = "work", string output = "out", int steps = 16, int evalEvery = 8, int checkpointEvery = 8)
    {
        var model = dir["llama"];
        if (!Directory.Exists(model)) ModelFactory.WriteCheckpoint(model, ModelFactory.TinyLlama(), seed: 1);
        var pairs = Enumerable.Range(0, 16).Select(i => new { prompt = $"Q{i % 4}:", completion = $" #### {2 * (i % 4)}" });
        Jsonl(dir["train.jsonl"], pairs);
        Jsonl(dir["valid.jsonl"], pairs.Take(4));
        Jsonl(dir["target.jsonl"], Enumerable.Range(0, 4).Select(i => new { prompt = $"Q{i}:", answer = $"{2 * i}" }));
        Jsonl(dir["chat.jsonl"], Enumerable.Range(0, 4).Select(i => new
        {
            messages = new object[] { new { role = "user", content = $"Q{i}:" }, new { role = "assistant", content = $"#### {2 * i}" } },
        }));
        Jsonl(dir["source.jsonl"], Enumerable.Range(0, 3).Select(i => new { context = $"Colour {i} is", choices = new[] { " red", " green", " blue" }, label = i }));
        return new FineTuneRunSpec
        {
            Job = new JobSpec
            {
                BaseModel = "tiny-llama",
                Method = FineTuneMethod.Lora,
                Lora = new LoraSettings { Rank = 8 },
                Hyperparameters = new Hyperparameters { LearningRate = 1e-2, MaxSteps = steps, BatchSize = 8, MicroBatchSize = 4, MaxSequenceLength = 32, WarmupSteps = 2, Seed = 7 },
                TrainingDataset = "train",
                ValidationDataset = "valid",
                Evaluation = new EvaluationSettings { Target = ["answers", "chat"], Source = ["colours"], EveryNSteps = evalEvery, MaxNewTokens = 8 },
                CheckpointEvery = checkpointEvery,
            },
            ModelDirectory = model,
            BaseModelName = "tiny-llama",
            Datasets = new Dictionary<string, RunDataset>
            {
                ["train"] = new(TrainId, "train", dir["train.jsonl"], DatasetFormat.PromptCompletion),
                ["valid"] = new(ValidationId, "valid", dir["valid.jsonl"], DatasetFormat.PromptCompletion),
                ["answers"] = new(TargetId, "answers", dir["target.jsonl"], DatasetFormat.ExactMatch),
                ["chat"] = new(ChatId, "chat", dir["chat.jsonl"], DatasetFormat.Messages),
                ["colours"] = new(SourceId, "colours", dir["source.jsonl"], DatasetFormat.MultipleChoice),
            },
            WorkDirectory = dir[work],
            OutputDirectory = dir[output],
            Device = DevicePreference.Cpu,
        };
    }

    static FineTuneRunSpec WithoutEvalSets(FineTuneRunSpec spec) =>
        spec with { Job = spec.Job with { Evaluation = spec.Job.Evaluation with { Target = [], Source = [] } } };

    /// <summary>Every spectral.json entry against ΔW from the files: its top σ, ‖ΔW‖ and rank90 (by its definition) computed here.</summary>
    static void AssertSpectrum(JsonElement report, IReadOnlyDictionary<string, Tensor> deltas)
    {
        var entries = report.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(deltas.Keys.Order(StringComparer.Ordinal), entries.Select(e => e.GetProperty("module_path").GetString()!).Order(StringComparer.Ordinal));
        foreach (var entry in entries)
        {
            var sigma = IndependentCheck.SingularValues(deltas[entry.GetProperty("module_path").GetString()!]);
            var reported = entry.GetProperty("top_singular_values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            // The top 16, or all there are (a rank-r update has r non-zero σ).
            Assert.True(reported.Length == 16 || sigma.Skip(reported.Length).All(x => x <= 1e-5 * sigma[0]), $"{reported.Length} of {string.Join(", ", sigma.Take(20))}");
            Assert.Equal(sigma.Take(reported.Length), reported, (a, b) => Math.Abs(a - b) <= 1e-5 * sigma[0]);
            Assert.Equal(Math.Sqrt(sigma.Sum(s => s * s)), entry.GetProperty("frobenius_norm").GetDouble(), 1e-5 * sigma[0]);
            Assert.Equal(IndependentCheck.Rank90(sigma), entry.GetProperty("rank90").GetInt32());
        }
    }

    [Fact]
    public void Lora_run_learns_evaluates_from_step_0_and_exports_an_adapter_that_reproduces_its_evaluation()
    {
        using var dir = new TempDir();
        var spec = LoraSpec(dir);
        var recorder = new Recorder();

        var result = FineTuneRun.Execute(spec, recorder);

        Assert.Equal(RunOutcome.Completed, result.Outcome);
        Assert.Equal(16, result.StepsCompleted);
        Assert.Equal(16, result.TotalSteps);
        Assert.Equal(Enumerable.Range(1, 16), recorder.Steps.Select(s => s.Step));
        Assert.True(result.TokensSeen > 0);
        Assert.Equal(recorder.Steps[^1].TokensSeen, result.TokensSeen);
        var first = recorder.Steps[0].Loss;
        var last = recorder.Steps[^1].Loss;
        // A std-0.02 head on 64 RMS-normed features gives logits of spread σ ≈ 0.16: the loss starts at ln(vocab) ± 0.1.
        // The head stays frozen, which caps how far LoRA can lower the loss of a tiny model in 16 steps; it must still
        // take 10 % off it, far beyond the batch-to-batch spread of a model that learns nothing (σ²/2 ≈ 0.01 nats).
        Assert.InRange(first, LossBounds.Uniform(ModelFactory.TinyLlama().VocabSize) - 0.1, LossBounds.Uniform(ModelFactory.TinyLlama().VocabSize) + 0.1);
        Assert.True(last < 0.9 * first, $"train loss {first} → {last}");

        // Baseline at step 0, eval_every 8 and the end (16), each with every set's metrics.
        Assert.Equal([0, 8, 16], recorder.Evaluations.Select(e => e.Step));
        foreach (var (_, measurements) in recorder.Evaluations)
            Assert.Equal(
                ["source/acc", "source/acc_norm", "target/exact_match", "target/loss", "target/perplexity", "target/token_accuracy",
                 "validation/loss", "validation/perplexity"],
                measurements.Select(m => $"{m.Role}/{m.Metric}").Order(StringComparer.Ordinal));
        var baseLoss = recorder.Value(0, "validation", ValidationId, "loss");
        var finalLoss = recorder.Value(16, "validation", ValidationId, "loss");
        Assert.True(finalLoss < baseLoss, $"validation loss {baseLoss} → {finalLoss}");
        // A float32 checkpoint: every tensor read as stored, and the event says so with the load's time.
        Assert.Contains(recorder.Events, e => e.Message.StartsWith("Loaded model LlamaForCausalLM", StringComparison.Ordinal)
            && e.Message.Contains(" as stored)", StringComparison.Ordinal) && e.Message.Contains(" s (tensors: ", StringComparison.Ordinal));
        Assert.Equal([8, 16], recorder.Checkpoints.Select(c => c.Step));

        // Samples with every evaluation: the first three rows of the exact-match and multiple-choice sets; none for the
        // loss-only chat set and the validation set.
        Assert.Equal([0, 8, 16], recorder.Samples.Select(s => s.Step));
        foreach (var (_, sets) in recorder.Samples)
        {
            Assert.Equal([("target", TargetId, "answers"), ("source", SourceId, "colours")], sets.Select(x => (x.Role, x.DatasetId, x.Name)));
            Assert.Equal(["Q0:", "Q1:", "Q2:"], sets[0].Samples.Select(x => x.Prompt));
            Assert.Equal(["0", "2", "4"], sets[0].Samples.Select(x => x.Expected));
            Assert.Equal(["Colour 0 is", "Colour 1 is", "Colour 2 is"], sets[1].Samples.Select(x => x.Prompt));
            Assert.Equal([" red", " green", " blue"], sets[1].Samples.Select(x => x.Expected));
            Assert.All(sets[1].Samples, x => Assert.Contains(x.Output, new[] { " red", " green", " blue" }));
        }

        Assert.Equal(
            ["adapter/adapter_config.json", "adapter/adapter_model.safetensors", "merged/config.json", "merged/generation_config.json",
             "merged/model.safetensors", "merged/tokenizer.json", "merged/tokenizer_config.json", "metrics.jsonl", "spectral.json", "summary.json"],
            result.Files.Select(f => f.RelativePath).Order(StringComparer.Ordinal));
        Assert.Equal("adapter", result.Files.Single(f => f.RelativePath == "adapter/adapter_model.safetensors").Kind);
        Assert.Equal("adapter_config", result.Files.Single(f => f.RelativePath == "adapter/adapter_config.json").Kind);
        Assert.All(result.Files.Where(f => f.RelativePath.StartsWith("merged/", StringComparison.Ordinal)), f => Assert.Equal("merged_model", f.Kind));
        Assert.All(result.Files, f => Assert.True(File.Exists(Path.Combine(spec.OutputDirectory, f.RelativePath)), f.RelativePath));
        Assert.Empty(Directory.GetDirectories(spec.OutputDirectory, ".tmp-*"));
        Assert.Contains("\"base_model_name_or_path\": \"tiny-llama\"", File.ReadAllText(Path.Combine(spec.OutputDirectory, "adapter", "adapter_config.json")));

        // The adapter's files merged into the base weights by hand, scored by hand, give the run's final validation loss.
        using var tokenizer = HfTokenizer.Load(spec.ModelDirectory);
        var validation = RunData.Build(RunData.ReadRows(spec.Dataset("valid").Path, DatasetFormat.PromptCompletion), tokenizer, null, 32, false).Examples;
        using var adapted = CheckpointLoader.Load(spec.ModelDirectory);
        AdapterImporter.Load(adapted, Path.Combine(spec.OutputDirectory, "adapter"));
        using (var mergedByHand = IndependentCheck.MergedModel(spec.ModelDirectory, Path.Combine(spec.OutputDirectory, "adapter")))
        {
            var rows = IndependentCheck.PromptCompletionRows(spec.Dataset("valid").Path, tokenizer, int.MaxValue, 32);
            Assert.Equal(finalLoss, IndependentCheck.MeanTokenLoss(mergedByHand, rows), 1e-4);
        }

        // The final exact-match samples are what the adapted model generates for those prompts, one at a time.
        var finalSamples = recorder.Samples.Single(x => x.Step == 16).Sets[0].Samples;
        foreach (var sample in finalSamples)
        {
            int[] prompt = [.. (tokenizer.AddBos && tokenizer.Special.BosId is { } bos ? [bos] : Array.Empty<int>()), .. tokenizer.Encode(sample.Prompt)];
            var generated = adapted.GenerateGreedy(prompt, 8, tokenizer.Special.EosId);
            Assert.Equal(tokenizer.Decode(generated.TakeWhile(t => t != tokenizer.Special.EosId).ToArray()), sample.Output);
            Assert.Equal(AnswerExtraction.IsCorrect(sample.Output, sample.Expected), sample.Correct);
        }

        // The merged checkpoint gives the adapted model's logits.
        using var merged = CheckpointLoader.Load(Path.Combine(spec.OutputDirectory, "merged"));
        adapted.eval();
        merged.eval();
        using (no_grad())
        {
            using var ids = tensor(validation[0].InputIds.Select(i => (long)i).ToArray()).unsqueeze(0);
            using var a = adapted.call(ids);
            using var b = merged.call(ids);
            Assert.True(a.allclose(b, rtol: 1e-4, atol: 1e-4), $"max |Δlogit| = {(a - b).abs().max().item<float>()}");
        }

        // metrics.jsonl holds every step metric and measurement once; summary.json compares baseline and final.
        var metrics = MetricsJournal.Read(Path.Combine(spec.OutputDirectory, "metrics.jsonl")).ToList();
        Assert.Equal(metrics.Count, metrics.Select(m => (m.Step, m.Name)).Distinct().Count());
        Assert.Equal(16, metrics.Count(m => m.Name == MetricNames.TrainLoss));
        Assert.Equal(3 * 8, metrics.Count(m => m.Name.StartsWith("eval/", StringComparison.Ordinal)));
        Assert.Contains(recorder.Events, e => e.Message == "Chat template: plain");
        Assert.Equal(baseLoss, metrics.Single(m => m.Step == 0 && m.Name == MetricNames.Eval("validation", ValidationId, "loss")).Value);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(spec.OutputDirectory, "summary.json")));
        var root = summary.RootElement;
        Assert.Equal(16, root.GetProperty("steps").GetInt32());
        // Stage timings: evaluation (three rounds) and training add up to no more than the run's time.
        var (evaluating, training) = (root.GetProperty("evaluation_seconds").GetDouble(), root.GetProperty("training_seconds").GetDouble());
        Assert.True(evaluating > 0 && training > 0, $"evaluation {evaluating} s, training {training} s");
        Assert.Equal(evaluating, metrics.Where(m => m.Name == MetricNames.EvaluationSeconds).MaxBy(m => m.Step)!.Value);
        Assert.Equal(result.TokensSeen, root.GetProperty("tokens_seen").GetInt64());
        var validationLoss = root.GetProperty("evaluations").EnumerateArray()
            .Single(e => e.GetProperty("role").GetString() == "validation" && e.GetProperty("metric").GetString() == "loss");
        Assert.Equal(baseLoss - finalLoss, validationLoss.GetProperty("change").GetDouble(), 1e-9);
        Assert.True(root.GetProperty("learning").TryGetProperty("exact_match", out _));
        Assert.True(root.GetProperty("learning").GetProperty("loss").GetDouble() > 0, "the chat target loss should improve");
        Assert.True(root.GetProperty("forgetting").TryGetProperty("acc", out _));
        Assert.Equal(7, root.GetProperty("spectral").GetArrayLength());
        using var spectral = JsonDocument.Parse(File.ReadAllText(Path.Combine(spec.OutputDirectory, "spectral.json")));
        Assert.Equal(14, spectral.RootElement.GetProperty("entries").GetArrayLength());
        using (NewDisposeScope())
        {
            var deltas = IndependentCheck.AdapterDeltas(Path.Combine(spec.OutputDirectory, "adapter"));
            AssertSpectrum(spectral.RootElement, deltas);
        }
    }

    [Fact]
    public void Full_fine_tune_of_gpt2_on_text_exports_a_model_that_reproduces_its_evaluation()
    {
        using var dir = new TempDir();
        ModelFactory.WriteCheckpoint(dir["gpt2"], ModelFactory.TinyGpt2(), seed: 2);
        Jsonl(dir["train.jsonl"], Enumerable.Range(0, 24).Select(i => new { text = $"the cat sat on the mat {i % 3}. the dog sat on the log." }));
        Jsonl(dir["heldout.jsonl"], Enumerable.Range(0, 4).Select(i => new { text = $"the dog sat on the mat {i}. the cat sat on the log." }));
        var targetId = Guid.NewGuid();
        var spec = new FineTuneRunSpec
        {
            Job = new JobSpec
            {
                BaseModel = "tiny-gpt2",
                Method = FineTuneMethod.Full,
                Hyperparameters = new Hyperparameters { LearningRate = 3e-3, MaxSteps = 24, BatchSize = 4, MicroBatchSize = 4, MaxSequenceLength = 48 },
                TrainingDataset = "train",
                Evaluation = new EvaluationSettings { Target = ["heldout"], EveryNSteps = 0 },
                CheckpointEvery = 0,
            },
            ModelDirectory = dir["gpt2"],
            BaseModelName = "tiny-gpt2",
            Datasets = new Dictionary<string, RunDataset>
            {
                ["train"] = new(TrainId, "train", dir["train.jsonl"], DatasetFormat.Text),
                ["heldout"] = new(targetId, "heldout", dir["heldout.jsonl"], DatasetFormat.Text),
            },
            WorkDirectory = dir["work"],
            OutputDirectory = dir["out"],
            Device = DevicePreference.Cpu,
        };
        var recorder = new Recorder();

        var result = FineTuneRun.Execute(spec, recorder);

        Assert.Equal(RunOutcome.Completed, result.Outcome);
        Assert.Equal(24, result.StepsCompleted);
        Assert.Contains(recorder.Events, e => e.Message.StartsWith("Training set: 24 rows → ", StringComparison.Ordinal));
        // Untrained (std-0.02 head, σ ≈ 0.16): ln(vocab) ± 0.1. Trained: below what any model blind to the context can reach
        // on the training blocks, the entropy of their bytes' frequencies.
        Assert.InRange(recorder.Steps[0].Loss, LossBounds.Uniform(ModelFactory.TinyGpt2().VocabSize) - 0.1, LossBounds.Uniform(ModelFactory.TinyGpt2().VocabSize) + 0.1);
        using (var bytes = HfTokenizer.Load(spec.ModelDirectory))
        {
            var training = RunData.Build(RunData.ReadRows(dir["train.jsonl"], DatasetFormat.Text), bytes, null, 48, false).Examples;
            Assert.True(recorder.Steps[^1].Loss < LossBounds.ContextFree(training),
                $"train loss {recorder.Steps[0].Loss} → {recorder.Steps[^1].Loss}; context-free floor {LossBounds.ContextFree(training)}");
        }
        Assert.Equal([0, 24], recorder.Evaluations.Select(e => e.Step));
        Assert.Equal(["loss", "perplexity", "token_accuracy"], recorder.Evaluations[0].Measurements.Select(m => m.Metric).Order(StringComparer.Ordinal));
        var finalLoss = recorder.Value(24, "target", targetId, "loss");
        Assert.True(finalLoss < recorder.Value(0, "target", targetId, "loss"));
        Assert.All(result.Files.Where(f => f.RelativePath.StartsWith("model/", StringComparison.Ordinal)), f => Assert.Equal("model", f.Kind));
        Assert.DoesNotContain(result.Files, f => f.RelativePath.StartsWith("adapter/", StringComparison.Ordinal) || f.RelativePath.StartsWith("merged/", StringComparison.Ordinal));

        using var tokenizer = HfTokenizer.Load(spec.ModelDirectory);
        var heldout = RunData.Build(RunData.ReadRows(dir["heldout.jsonl"], DatasetFormat.Text), tokenizer, null, 48, false).Examples;
        using var tuned = CheckpointLoader.Load(Path.Combine(spec.OutputDirectory, "model"));
        Assert.Equal(finalLoss, IndependentCheck.MeanTokenLoss(tuned, heldout.Select(e => (e.InputIds, e.Labels.Select(l => l != TokenizedExample.IgnoreIndex).ToArray()))), 1e-4);

        using var spectral = JsonDocument.Parse(File.ReadAllText(Path.Combine(spec.OutputDirectory, "spectral.json")));
        Assert.Equal("full", spectral.RootElement.GetProperty("method").GetString());
        var entries = spectral.RootElement.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(8, entries.Count);
        using (NewDisposeScope())
        {
            using var tunedWeights = SafetensorsReader.Open(Path.Combine(spec.OutputDirectory, "model", CheckpointLoader.SingleFile));
            using var baseWeights = SafetensorsReader.Open(Path.Combine(spec.ModelDirectory, CheckpointLoader.SingleFile));
            var deltas = entries.Select(e => e.GetProperty("module_path").GetString()!).ToDictionary(path => path,
                path => tunedWeights.Read($"{path}.weight", ScalarType.Float64) - baseWeights.Read($"{path}.weight", ScalarType.Float64));
            AssertSpectrum(spectral.RootElement, deltas);
        }
        Assert.Contains(spectral.RootElement.GetProperty("modules").EnumerateArray(), m => m.GetProperty("module").GetString() == "attn.c_attn");
    }

    [Fact]
    public void A_cancelled_run_resumed_from_its_work_directory_ends_like_an_uninterrupted_run()
    {
        using var dir = new TempDir();
        var uninterruptedSpec = LoraSpec(dir, work: "work-a", output: "out-a", steps: 8, evalEvery: 3, checkpointEvery: 0);
        var uninterrupted = new Recorder();
        Assert.Equal(RunOutcome.Completed, FineTuneRun.Execute(uninterruptedSpec, uninterrupted).Outcome);

        var spec = uninterruptedSpec with { WorkDirectory = dir["work-b"], OutputDirectory = dir["out-b"] };
        using var cancel = new CancellationTokenSource();
        var firstSitting = new Recorder { AfterStep = p => { if (p.Step == 3) cancel.Cancel(); } };
        var cancelled = FineTuneRun.Execute(spec, firstSitting, cancel.Token);

        Assert.Equal(RunOutcome.Cancelled, cancelled.Outcome);
        Assert.Equal(3, cancelled.StepsCompleted);
        Assert.Empty(cancelled.Files);
        Assert.False(Directory.Exists(spec.OutputDirectory) && Directory.EnumerateFileSystemEntries(spec.OutputDirectory).Any());
        Assert.Equal([(3, Path.Combine(spec.WorkDirectory, "checkpoints", "checkpoint-00000003"))], firstSitting.Checkpoints);
        // The stop also interrupts the evaluation due at step 3 (a cancelled token stops evaluators before their first
        // batch); the checkpoint at 3 is written anyway and the next sitting runs that evaluation on the restored weights.
        Assert.Equal([0], firstSitting.Evaluations.Select(e => e.Step));

        var secondSitting = new Recorder();
        var resumed = FineTuneRun.Execute(spec, secondSitting);

        Assert.Equal(RunOutcome.Completed, resumed.Outcome);
        Assert.Contains(secondSitting.Events, e => e.Message.StartsWith("Resuming from step 3", StringComparison.Ordinal));
        // The observer sees steps after the checkpoint only, and no second baseline.
        Assert.Equal([4, 5, 6, 7, 8], secondSitting.Steps.Select(s => s.Step));
        Assert.Equal([3, 6, 8], secondSitting.Evaluations.Select(e => e.Step));
        var steps = firstSitting.Steps.Concat(secondSitting.Steps).ToList();
        Assert.Equal(uninterrupted.Steps.Select(s => s.Step), steps.Select(s => s.Step));
        for (var i = 0; i < steps.Count; i++)
        {
            Assert.Equal(uninterrupted.Steps[i].Loss, steps[i].Loss, 1e-5);
            Assert.Equal(uninterrupted.Steps[i].GradNorm, steps[i].GradNorm, 1e-4);
            Assert.Equal(uninterrupted.Steps[i].TokensSeen, steps[i].TokensSeen);
        }
        Assert.Equal(uninterrupted.Steps[^1].TokensSeen, resumed.TokensSeen);
        foreach (var (step, measurements) in firstSitting.Evaluations.Concat(secondSitting.Evaluations))
            foreach (var m in measurements)
                Assert.Equal(uninterrupted.Value(step, m.Role, m.DatasetId, m.Metric), m.Value, 1e-5);

        // Same adapter weights, and the same metrics.jsonl (timings aside) with the first sitting's baseline in it.
        var a = SafetensorsReader.ReadAll(Path.Combine(uninterruptedSpec.OutputDirectory, "adapter", "adapter_model.safetensors"));
        var b = SafetensorsReader.ReadAll(Path.Combine(spec.OutputDirectory, "adapter", "adapter_model.safetensors"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys)
            Assert.True(a[key].allclose(b[key], rtol: 0, atol: 1e-5), key);
        string[] timings = [MetricNames.TokensPerSecond, MetricNames.ElapsedSeconds, MetricNames.EvaluationSeconds];
        var expected = MetricsJournal.Read(Path.Combine(uninterruptedSpec.OutputDirectory, "metrics.jsonl")).Where(m => !timings.Contains(m.Name)).ToList();
        var actual = MetricsJournal.Read(Path.Combine(spec.OutputDirectory, "metrics.jsonl")).Where(m => !timings.Contains(m.Name)).ToList();
        Assert.Equal(expected.Select(m => (m.Step, m.Name)), actual.Select(m => (m.Step, m.Name)));
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First.Value, p.Second.Value, 1e-5));
    }

    [Fact]
    public void A_run_that_crashed_after_its_last_checkpoint_repeats_the_lost_steps_without_duplicating_metrics()
    {
        using var dir = new TempDir();
        var spec = WithoutEvalSets(LoraSpec(dir, steps: 6, evalEvery: 0, checkpointEvery: 2));
        var crashing = new Recorder { AfterStep = p => { if (p.Step == 3) throw new IOException("worker died"); } };
        Assert.Throws<IOException>(() => FineTuneRun.Execute(spec, crashing));
        Assert.Equal([2], crashing.Checkpoints.Select(c => c.Step));

        var second = new Recorder();
        var result = FineTuneRun.Execute(spec, second);

        Assert.Equal(RunOutcome.Completed, result.Outcome);
        Assert.Equal([3, 4, 5, 6], second.Steps.Select(s => s.Step));
        Assert.Equal(crashing.Steps[2].Loss, second.Steps[0].Loss, 1e-5);
        Assert.Equal([6], second.Evaluations.Select(e => e.Step));
        var metrics = MetricsJournal.Read(Path.Combine(spec.OutputDirectory, "metrics.jsonl")).ToList();
        Assert.Equal(metrics.Count, metrics.Select(m => (m.Step, m.Name)).Distinct().Count());
        Assert.Equal([1, 2, 3, 4, 5, 6], metrics.Where(m => m.Name == MetricNames.TrainLoss).Select(m => m.Step));
        Assert.Equal([0, 6], metrics.Where(m => m.Name == MetricNames.Eval("validation", ValidationId, "loss")).Select(m => m.Step));

        // Run again (e.g. the worker died during export): the checkpoint at the last step means nothing to repeat but the export.
        var third = new Recorder();
        var again = FineTuneRun.Execute(spec, third);
        Assert.Equal(RunOutcome.Completed, again.Outcome);
        Assert.Equal(6, again.StepsCompleted);
        Assert.Equal(result.TokensSeen, again.TokensSeen);
        Assert.Empty(third.Steps);
        Assert.Empty(third.Evaluations);
        Assert.Equal(metrics, MetricsJournal.Read(Path.Combine(spec.OutputDirectory, "metrics.jsonl")));
    }

    [Fact]
    public void A_resumed_run_sends_the_journal_again_from_the_step_its_caller_last_stored_up_to_the_checkpoint()
    {
        using var dir = new TempDir();
        var spec = WithoutEvalSets(LoraSpec(dir, steps: 6, evalEvery: 0, checkpointEvery: 4));
        var crashing = new Recorder { AfterStep = p => { if (p.Step == 5) throw new IOException("worker died"); } };
        Assert.Throws<IOException>(() => FineTuneRun.Execute(spec, crashing));

        // The service had stored steps up to 2 when its worker died: 2..4 (the checkpoint) come again, 5 is recomputed.
        var second = new Recorder();
        FineTuneRun.Execute(spec with { ReplayMetricsFromStep = 2 }, second);
        Assert.Equal([2, 3, 4], second.Replayed.Where(r => r.Name == MetricNames.TrainLoss).Select(r => r.Step));
        foreach (var step in new[] { 2, 3, 4 })
            Assert.Equal(crashing.Steps[step - 1].Loss, second.Replayed.Single(r => r.Step == step && r.Name == MetricNames.TrainLoss).Value, 1e-6);
        Assert.Equal([5, 6], second.Steps.Select(s => s.Step));

        // Without a replay step nothing is sent again; from 0 the baseline evaluation comes too.
        var fresh = new Recorder();
        FineTuneRun.Execute(spec with { WorkDirectory = dir["other-work"], OutputDirectory = dir["other-out"], ReplayMetricsFromStep = 0 }, fresh);
        Assert.Empty(fresh.Replayed);
    }

    [Fact]
    public void A_training_set_with_nothing_left_to_score_gives_no_steps_and_exports_nothing()
    {
        using var dir = new TempDir();
        var spec = LoraSpec(dir);
        var longRows = Jsonl(dir["long.jsonl"], Enumerable.Range(0, 3).Select(i => new { prompt = new string('x', 64), completion = " y" }));
        spec = spec with { Datasets = new Dictionary<string, RunDataset>(spec.Datasets) { ["train"] = new(TrainId, "long", longRows, DatasetFormat.PromptCompletion) } };
        var recorder = new Recorder();

        var result = FineTuneRun.Execute(spec, recorder);

        Assert.Equal(RunOutcome.NoSteps, result.Outcome);
        Assert.Equal(0, result.StepsCompleted);
        Assert.Empty(result.Files);
        Assert.Empty(recorder.Steps);
        Assert.False(Directory.Exists(spec.OutputDirectory));
        Assert.Contains(recorder.Events, e => e.Level == "warning" && e.Message.Contains("3 of 3 rows were dropped", StringComparison.Ordinal));
    }
}
