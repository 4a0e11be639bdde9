using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Tokenization.Planning;

namespace LoraService.Tokenization.Tests;

public sealed class RunPlanTests : IDisposable
{
    private readonly string _tokenizer = TinyTokenizerFiles.Write();
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("run-plan-");

    public void Dispose()
    {
        _data.Delete(recursive: true);
        Directory.Delete(_tokenizer, recursive: true);
    }

    private DatasetFile Jsonl(string name, DatasetFormat format, IEnumerable<object> rows)
    {
        var path = Path.Combine(_data.FullName, name);
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r)));
        return new DatasetFile(path, format);
    }

    private static JobSpec Job(Hyperparameters hyperparameters, string? validation = null, int maxExamples = 200, params string[] source) => new()
    {
        TrainingDataset = "train",
        ValidationDataset = validation,
        Hyperparameters = hyperparameters,
        Evaluation = new EvaluationSettings { Source = source, MaxExamples = maxExamples },
    };

    [Fact]
    public void Counts_truncated_and_dropped_rows_and_the_steps_over_what_is_left()
    {
        // Byte-level ids, no BOS, EOS after the completion; max length 8.
        var train = Jsonl("train.jsonl", DatasetFormat.PromptCompletion,
        [
            new { prompt = "ab", completion = "cd" },             // 5 tokens, 3 scored
            new { prompt = "abc", completion = "defghij" },       // 11 tokens → 8, 5 scored
            new { prompt = "abcdefghij", completion = "xy" },     // 13 tokens → 8, all prompt: dropped
        ]);
        var job = Job(new Hyperparameters { MaxSequenceLength = 8, BatchSize = 2, MicroBatchSize = 1, Epochs = 3 });

        var plan = RunPlan.For(_tokenizer, job, new Dictionary<string, DatasetFile> { ["train"] = train });

        Assert.Equal(new DatasetPlan("training_dataset", "train", DatasetUse.Training, DatasetFormat.PromptCompletion,
            Rows: 3, Examples: 2, Tokens: 13, ScoredTokens: 8, Truncated: 2, Dropped: 1), Assert.Single(plan.Datasets));
        Assert.Equal(3, plan.OptimizerSteps); // 2 micro-batches × 3 epochs, 2 per step
        Assert.Null(plan.ChatTemplate);
    }

    [Fact]
    public void Evaluation_sets_are_cut_to_max_examples_and_only_loss_sets_are_tokenized()
    {
        var datasets = new Dictionary<string, DatasetFile>
        {
            ["train"] = Jsonl("train.jsonl", DatasetFormat.Messages, Enumerable.Range(0, 5).Select(i => new
            {
                messages = new object[] { new { role = "user", content = $"Q{i}" }, new { role = "assistant", content = "A" } },
            })),
            ["valid"] = Jsonl("valid.jsonl", DatasetFormat.Text, Enumerable.Range(0, 5).Select(i => new { text = $"row {i}" })),
            ["colours"] = Jsonl("colours.jsonl", DatasetFormat.MultipleChoice,
                Enumerable.Range(0, 3).Select(i => new { context = $"Colour {i} is", choices = new[] { " red", " blue" }, label = 0 })),
        };
        var job = Job(new Hyperparameters { MaxSequenceLength = 64, BatchSize = 4, MicroBatchSize = 2, MaxSteps = 7 },
            validation: "valid", maxExamples: 2, "colours");

        var plan = RunPlan.For(_tokenizer, job, datasets);

        Assert.Equal(["training_dataset", "validation_dataset", "evaluation.source[0]"], plan.Datasets.Select(d => d.Field));
        Assert.Equal((5, 5, 0, 0), (plan.Training!.Rows, plan.Training.Examples, plan.Training.Truncated, plan.Training.Dropped));
        Assert.True(plan.Training.ScoredTokens > 0 && plan.Training.ScoredTokens < plan.Training.Tokens);
        var validation = plan.Datasets[1];
        Assert.Equal(2, validation.Rows);
        Assert.Equal(1, validation.Examples); // "row 0" + EOS + "row 1" + EOS packed into one 64-token block
        Assert.Equal(12, validation.Tokens);
        Assert.Equal(new DatasetPlan("evaluation.source[0]", "colours", DatasetUse.Source, DatasetFormat.MultipleChoice, 2, 2, null, null, 0, 0),
            plan.Datasets[2]);
        Assert.Equal(7, plan.OptimizerSteps);
        Assert.Equal("plain", plan.ChatTemplate);
    }

    [Fact]
    public void A_training_set_with_nothing_to_score_plans_no_step()
    {
        var train = Jsonl("train.jsonl", DatasetFormat.PromptCompletion, [new { prompt = "abcdefghij", completion = "x" }]);

        var plan = RunPlan.For(_tokenizer, Job(new Hyperparameters { MaxSequenceLength = 4 }), new Dictionary<string, DatasetFile> { ["train"] = train });

        Assert.Equal((1, 0, 1, 1), (plan.Training!.Rows, plan.Training.Examples, plan.Training.Truncated, plan.Training.Dropped));
        Assert.Equal(0, plan.OptimizerSteps);
    }
}
