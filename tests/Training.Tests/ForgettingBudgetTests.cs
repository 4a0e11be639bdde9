using LoraService.Contracts;
using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Tokenization;
using LoraService.Training.Checkpoints;
using LoraService.Training.Pipeline;
using LoraService.Training.Pipeline.Budget;
using static LoraService.Training.Tests.FineTuneRunTests;

namespace LoraService.Training.Tests;

/// <summary>
/// The forgetting budget against an unbudgeted reference run of the same spec (runs are deterministic, so the budgeted run
/// follows the reference until it stops): what it stops at, which step it exports, and that the exported model scores
/// what the reference scored at that step, recomputed from the files.
/// </summary>
public sealed class ForgettingBudgetTests(ForgettingBudgetTests.Reference shared) : IClassFixture<ForgettingBudgetTests.Reference>
{
    /// <summary>One unbudgeted run that every test compares with.</summary>
    public sealed class Reference : IDisposable
    {
        internal readonly TempDir Dir = new();
        internal readonly Recorder Run = new();

        public Reference() => FineTuneRun.Execute(Spec(Dir, "reference", null), Run);

        public void Dispose() => Dir.Dispose();
    }

    static readonly Guid TextSourceId = Guid.Parse("66666666-6666-6666-6666-666666666666");
    const int Steps = 24, Every = 4;

    /// <summary>
    /// Full fine-tuning of the test spec at a small learning rate, with unrelated English text as a source set: its loss
    /// rises step by step as the model fits the arithmetic (measured: +0.013, +0.021, +0.031, +0.040 … at steps 4, 8, 12,
    /// 16), so forgetting grows while learning does.
    /// </summary>
    static FineTuneRunSpec Spec(TempDir dir, string name, ForgettingBudget? budget)
    {
        var spec = LoraSpec(dir, work: name + "-work", output: name + "-out", steps: Steps, evalEvery: Every, checkpointEvery: Every);
        var text = Jsonl(dir["source-text.jsonl"], Enumerable.Range(0, 6).Select(i => new { text = $"The river {i} runs past the old mill and on to the sea." }));
        return spec with
        {
            Job = spec.Job with
            {
                Method = FineTuneMethod.Full,
                Lora = null,
                Hyperparameters = spec.Job.Hyperparameters with { LearningRate = 1e-3 },
                Evaluation = spec.Job.Evaluation with { Source = [.. spec.Job.Evaluation.Source, "river"] },
                ForgettingBudget = budget,
            },
            Datasets = new Dictionary<string, RunDataset>(spec.Datasets) { ["river"] = new(TextSourceId, "river", text, DatasetFormat.Text) },
        };
    }

    /// <summary>Forgetting of loss at each evaluated step by the summary's definition: mean over source sets of (value − value at step 0).</summary>
    static Dictionary<int, double> Forgetting(Recorder reference) => reference.Evaluations.Where(e => e.Step > 0).ToDictionary(e => e.Step, e =>
        e.Measurements.Where(m => m.Role == MetricNames.Source && m.Metric == "loss")
            .Average(m => m.Value - reference.Value(0, MetricNames.Source, m.DatasetId, "loss")));

    /// <summary>Learning of loss at a step: mean over target sets of (value at step 0 − value).</summary>
    static double Learning(Recorder reference, int step) =>
        reference.Evaluations.Single(e => e.Step == step).Measurements.Where(m => m.Role == MetricNames.Target && m.Metric == "loss")
            .Average(m => reference.Value(0, MetricNames.Target, m.DatasetId, "loss") - m.Value);

    static double ExportedValidationLoss(FineTuneRunSpec spec)
    {
        using var tokenizer = HfTokenizer.Load(spec.ModelDirectory);
        using var exported = CheckpointLoader.Load(Path.Combine(spec.OutputDirectory, "model"));
        exported.eval();
        return IndependentCheck.MeanTokenLoss(exported, IndependentCheck.PromptCompletionRows(spec.Dataset("valid").Path, tokenizer, 200, 32));
    }

    [Fact]
    public void Stop_ends_training_at_the_first_evaluation_over_budget_and_exports_the_last_step_within_it()
    {
        var (dir, reference) = (shared.Dir, shared.Run);
        var forgetting = Forgetting(reference);
        var first = forgetting[Every];
        var crossing = forgetting.Keys.Order().FirstOrDefault(s => forgetting[s] > first);
        Assert.True(crossing > Every, $"the reference run never forgets more than at its first evaluation: {string.Join(", ", forgetting)}");

        var spec = Spec(dir, "stop", new ForgettingBudget { Metric = "loss", Max = first, Action = BudgetAction.Stop });
        var budgeted = new Recorder();
        var result = FineTuneRun.Execute(spec, budgeted);

        Assert.Equal(RunOutcome.Completed, result.Outcome);
        Assert.Equal(crossing, result.StepsCompleted);
        Assert.Equal(crossing - Every, result.Export!.Step);
        Assert.Contains(budgeted.Events, e => e.Level == "warning" && e.Message.StartsWith("Forgetting budget crossed", StringComparison.Ordinal));
        // Once, at the crossing: what the worker turns into a job.forgetting_budget_exceeded webhook.
        Assert.Equal([crossing], budgeted.BudgetCrossings);
        Assert.Contains($"exported step {crossing - Every}", File.ReadAllText(Path.Combine(spec.OutputDirectory, "summary.json")));
        var expected = reference.Value(crossing - Every, MetricNames.Validation, ValidationId, "loss");
        Assert.Equal(expected, ExportedValidationLoss(spec), 1e-4);
    }

    [Fact]
    public void Select_trains_to_the_end_and_exports_the_step_with_most_learning_within_budget()
    {
        var (dir, reference) = (shared.Dir, shared.Run);
        var forgetting = Forgetting(reference);
        // Within the budget up to step 12 of 24: the best of those is not the last step, so its checkpoint is restored.
        var max = forgetting[3 * Every];
        var best = forgetting.Keys.Where(s => forgetting[s] <= max).MaxBy(s => Learning(reference, s));
        Assert.True(best < Steps, $"forgetting {string.Join(", ", forgetting)}");

        var spec = Spec(dir, "select", new ForgettingBudget { Metric = "loss", Max = max, Action = BudgetAction.Select });
        var result = FineTuneRun.Execute(spec, new Recorder());

        Assert.Equal((RunOutcome.Completed, Steps), (result.Outcome, result.StepsCompleted));
        Assert.Equal(best, result.Export!.Step);
        Assert.Equal(reference.Value(best, MetricNames.Validation, ValidationId, "loss"), ExportedValidationLoss(spec), 1e-4);
        // select keeps every evaluation step's checkpoint, whatever keep_checkpoints says.
        Assert.Equal(Enumerable.Range(1, Steps / Every).Select(k => k * Every),
            Directory.GetDirectories(Path.Combine(spec.WorkDirectory, "checkpoints")).Select(d => int.Parse(Path.GetFileName(d)["checkpoint-".Length..])).Order());
    }

    [Fact]
    public void A_first_evaluation_already_over_budget_fails_with_forgetting_budget_and_exports_nothing()
    {
        var (dir, reference) = (shared.Dir, shared.Run);
        var first = Forgetting(reference)[Every];
        Assert.True(first > 0, $"the reference run forgot nothing by step {Every}: {first}");

        var spec = Spec(dir, "fail", new ForgettingBudget { Metric = "loss", Max = first / 2, Action = BudgetAction.Stop });
        var refused = Assert.Throws<ForgettingBudgetException>(() => FineTuneRun.Execute(spec, new Recorder()));
        Assert.Equal("forgetting_budget", refused.Code);
        Assert.False(File.Exists(Path.Combine(spec.OutputDirectory, "summary.json")));
    }
}
