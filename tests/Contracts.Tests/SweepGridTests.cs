using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Contracts.Jobs;
using LoraService.Contracts.Sweeps;

namespace LoraService.Contracts.Tests;

public sealed class SweepGridTests
{
    private static JsonObject Base(string json = """{"base_model": "m", "training_dataset": "d", "lora": {"dropout": 0.1}}""") => JsonNode.Parse(json)!.AsObject();
    private static JsonObject Grid(string json) => JsonNode.Parse(json)!.AsObject();

    private static IReadOnlyList<SweepChildPlan> Expand(string grid, JsonObject? baseSpec = null, int max = 64)
    {
        var (children, errors) = SweepGrid.Expand(baseSpec ?? Base(), Grid(grid), "s", max);
        Assert.Empty(errors);
        return children;
    }

    private static IReadOnlyDictionary<string, string[]> Errors(string? grid, int max = 64) =>
        SweepGrid.Expand(Base(), grid is null ? null : Grid(grid), "s", max).Errors;

    private static JobSpec Spec(SweepChildPlan child) => child.Spec.Deserialize<JobSpec>(JobSpecJson.Options)!;

    [Fact]
    public void The_product_collapses_lora_keys_for_full_children()
    {
        var children = Expand("""{"method": ["lora", "full"], "lora.rank": [4, 16, 64], "hyperparameters.learning_rate": [0.001, 0.01]}""");

        Assert.Equal(
        [
            "method=lora,lora.rank=4,hyperparameters.learning_rate=0.001", "method=lora,lora.rank=4,hyperparameters.learning_rate=0.01",
            "method=lora,lora.rank=16,hyperparameters.learning_rate=0.001", "method=lora,lora.rank=16,hyperparameters.learning_rate=0.01",
            "method=lora,lora.rank=64,hyperparameters.learning_rate=0.001", "method=lora,lora.rank=64,hyperparameters.learning_rate=0.01",
            "method=full,hyperparameters.learning_rate=0.001", "method=full,hyperparameters.learning_rate=0.01",
        ], children.Select(c => c.Label));
        var lora = Spec(children[2]);
        Assert.Equal((FineTuneMethod.Lora, 16, 0.1, 0.001), (lora.Method, lora.Lora!.Rank, lora.Lora.Dropout, lora.Hyperparameters.LearningRate));
        Assert.Equal("s [method=lora,lora.rank=16,hyperparameters.learning_rate=0.001]", lora.Name);
        var full = Spec(children[^1]);
        Assert.Equal((FineTuneMethod.Full, null, 0.01), (full.Method, full.Lora, full.Hyperparameters.LearningRate));
        Assert.Equal(["method", "hyperparameters.learning_rate"], children[^1].Coordinates.Select(c => c.Key));
    }

    [Fact]
    public void Without_a_learning_rate_each_method_gets_the_papers_grid()
    {
        var children = Expand("""{"method": ["full", "lora"], "lora.rank": [8]}""");

        Assert.Equal(6, children.Count);
        Assert.Equal(SweepDefaults.FullLearningRates, children.Take(3).Select(c => Spec(c).Hyperparameters.LearningRate!.Value));
        Assert.Equal(SweepDefaults.LoraLearningRates, children.Skip(3).Select(c => Spec(c).Hyperparameters.LearningRate!.Value));
        Assert.All(SweepDefaults.LoraLearningRates.Zip(SweepDefaults.FullLearningRates), p => Assert.Equal(10, p.First / p.Second, 9));
        Assert.Equal("method=lora,lora.rank=8,hyperparameters.learning_rate=0.0001", children[3].Label);

        // A rate in the base is kept: no grid of rates.
        var fixedRate = Expand("""{"lora.rank": [4, 8]}""", Base("""{"base_model": "m", "hyperparameters": {"learning_rate": 0.003, "max_steps": 5}}"""));
        Assert.Equal(["lora.rank=4", "lora.rank=8"], fixedRate.Select(c => c.Label));
        Assert.Equal((0.003, 5), (Spec(fixedRate[0]).Hyperparameters.LearningRate, Spec(fixedRate[0]).Hyperparameters.MaxSteps));
    }

    [Fact]
    public void List_valued_fields_and_nested_paths_are_set_as_given()
    {
        var children = Expand("""{"lora.target_modules": [["q_proj", "v_proj"], ["all-linear"]], "hyperparameters.seed": [1], "hyperparameters.learning_rate": [0.01]}""");
        Assert.Equal(["q_proj", "v_proj"], Spec(children[0]).Lora!.TargetModules!);
        Assert.Equal("""lora.target_modules=["q_proj","v_proj"],hyperparameters.seed=1,hyperparameters.learning_rate=0.01""", children[0].Label);
    }

    [Theory]
    [InlineData(null, "grid", "at least one")]
    [InlineData("{}", "grid", "at least one")]
    [InlineData("""{"lora.rank": []}""", "grid.lora.rank", "empty")]
    [InlineData("""{"lora.rank": 4}""", "grid.lora.rank", "must be a list")]
    [InlineData("""{"lora.rnak": [4]}""", "grid.lora.rnak", "not a field")]
    [InlineData("""{"hyperparameters.gradient_accumulation_steps": [4]}""", "grid.hyperparameters.gradient_accumulation_steps", "not a field")]
    [InlineData("""{"lora.rank.x": [4]}""", "grid.lora.rank.x", "not a field")]
    [InlineData("""{"seed": [1, 2]}""", "grid.seed", "did you mean hyperparameters.seed?")]
    [InlineData("""{"base_model": ["a", "b"]}""", "grid.base_model", "cannot vary")]
    [InlineData("""{"evaluation": [{}]}""", "grid.evaluation", "cannot vary")]
    [InlineData("""{"lora": [{"rank": 4}], "lora.rank": [8]}""", "grid.lora.rank", "overlaps")]
    [InlineData("""{"lora.rank": [4, 4]}""", "grid.lora.rank", "listed twice")]
    public void Bad_grids_name_the_key(string? grid, string key, string message)
    {
        var errors = Errors(grid);
        Assert.True(errors.ContainsKey(key), string.Join("; ", errors.Keys));
        Assert.Contains(message, errors[key].Single());
    }

    [Fact]
    public void More_children_than_the_cap_is_an_error_and_so_is_a_huge_product()
    {
        // 3 ranks × 3 seeds × the 3 default learning rates.
        Assert.Contains("expands to 27 children; a sweep may have at most 8", Errors("""{"lora.rank": [1, 2, 3], "hyperparameters.seed": [1, 2, 3]}""", max: 8)["grid"].Single());
        var huge = "{" + string.Join(",", Enumerable.Range(0, 6).Select(i => $"\"{new[] { "hyperparameters.seed", "lora.rank", "lora.alpha", "lora.dropout", "hyperparameters.epochs", "hyperparameters.batch_size" }[i]}\": [{string.Join(",", Enumerable.Range(1, 10))}]")) + "}";
        Assert.Contains("more than 100,000 combinations", Errors(huge)["grid"].Single());
    }
}
