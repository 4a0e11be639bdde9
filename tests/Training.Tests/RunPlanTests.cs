using System.Text.RegularExpressions;
using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Tokenization.Planning;
using LoraService.Training.Pipeline;

namespace LoraService.Training.Tests;

/// <summary>The dry run predicts what the engine then reports for the same spec.</summary>
public sealed partial class RunPlanTests
{
    [GeneratedRegex(@"^(?<label>.+?): (?<rows>\d+) rows → (?<examples>\d+) examples, (?<tokens>[\d,. ]+) tokens$")]
    private static partial Regex Prepared();

    [GeneratedRegex(@"^(?<label>.+?): (?<count>\d+) of \d+ rows were (?<what>longer|dropped)")]
    private static partial Regex Lost();

    private sealed record Reported(int Rows, int Examples, long Tokens, int Truncated, int Dropped);

    private static Dictionary<string, Reported> ReportedData(IEnumerable<(string Level, string Message)> events)
    {
        var reported = new Dictionary<string, Reported>();
        foreach (var (_, message) in events)
        {
            if (Prepared().Match(message) is { Success: true } p)
                reported[p.Groups["label"].Value] = new Reported(int.Parse(p.Groups["rows"].Value), int.Parse(p.Groups["examples"].Value),
                    long.Parse(string.Concat(p.Groups["tokens"].Value.Where(char.IsAsciiDigit))), 0, 0);
            else if (Lost().Match(message) is { Success: true } l)
            {
                var label = l.Groups["label"].Value;
                var count = int.Parse(l.Groups["count"].Value);
                reported[label] = l.Groups["what"].Value == "longer" ? reported[label] with { Truncated = count } : reported[label] with { Dropped = count };
            }
        }
        return reported;
    }

    private static string Label(DatasetPlan plan) => plan.Use switch
    {
        DatasetUse.Training => "Training set",
        DatasetUse.Validation => "Validation set",
        _ => $"Eval set '{plan.Reference}' ({plan.Use.ToString().ToLowerInvariant()}, {plan.Format.ToWireName()})",
    };

    [Fact]
    public void The_plan_s_counts_and_steps_are_what_the_engine_reports()
    {
        using var dir = new TempDir();
        var spec = FineTuneRunTests.LoraSpec(dir, checkpointEvery: 0);
        // 10 rows at max length 32: 3 cut, one of them left with nothing to score.
        FineTuneRunTests.Jsonl(dir["train.jsonl"], Enumerable.Range(0, 7).Select(i => new { prompt = $"Q{i % 4}:", completion = $" #### {2 * (i % 4)}" })
            .Append(new { prompt = "Q1:", completion = new string('x', 40) })
            .Append(new { prompt = "Q2:", completion = new string('y', 40) })
            .Append(new { prompt = new string('p', 40), completion = " #### 0" }));
        spec = spec with
        {
            Job = spec.Job with
            {
                // 9 examples in micro-batches of 4: 3 per epoch, 9 over 3 epochs, 2 per step → 5 steps (the last one short).
                Hyperparameters = spec.Job.Hyperparameters with { MaxSteps = null, Epochs = 3 },
                Evaluation = spec.Job.Evaluation with { Target = ["chat"], Source = ["colours"], EveryNSteps = 0, MaxExamples = 3 },
            },
        };
        var plan = RunPlan.For(spec.ModelDirectory, spec.ResolvedJob(),
            spec.Datasets.ToDictionary(d => d.Key, d => new DatasetFile(d.Value.Path, d.Value.Format)));
        var recorder = new FineTuneRunTests.Recorder();

        var result = FineTuneRun.Execute(spec, recorder);

        Assert.Equal(RunOutcome.Completed, result.Outcome);
        Assert.Equal((10, 9, 3, 1), (plan.Training!.Rows, plan.Training.Examples, plan.Training.Truncated, plan.Training.Dropped));
        Assert.Equal(5, plan.OptimizerSteps);
        Assert.Equal(plan.OptimizerSteps, result.TotalSteps);
        Assert.Equal(plan.OptimizerSteps, result.StepsCompleted);
        Assert.Contains(("info", $"Chat template: {plan.ChatTemplate}"), recorder.Events);
        var reported = ReportedData(recorder.Events);
        var tokenized = plan.Datasets.Where(d => d.Tokens is not null).ToList();
        Assert.Equal(["training_dataset", "validation_dataset", "evaluation.target[0]"], tokenized.Select(d => d.Field));
        foreach (var set in tokenized)
            Assert.Equal(new Reported(set.Rows, set.Examples, set.Tokens!.Value, set.Truncated, set.Dropped), reported[Label(set)]);
        var colours = plan.Datasets.Single(d => d.Reference == "colours");
        Assert.Contains(("info", $"{Label(colours)}: {colours.Examples} questions"), recorder.Events);
    }
}
