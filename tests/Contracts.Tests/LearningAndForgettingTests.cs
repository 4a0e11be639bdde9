namespace LoraService.Contracts.Tests;

public sealed class LearningAndForgettingTests
{
    private static readonly Guid Code = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid Math = Guid.Parse("22222222-2222-2222-2222-222222222222");
    private static readonly Guid Hellaswag = Guid.Parse("33333333-3333-3333-3333-333333333333");
    private static readonly Guid Arc = Guid.Parse("44444444-4444-4444-4444-444444444444");

    [Fact]
    public void Learning_averages_improvement_on_target_sets_and_forgetting_averages_degradation_on_source_sets()
    {
        MetricValue[] points =
        [
            new(MetricNames.Eval(MetricNames.Target, Code, "exact_match"), 0, 0.10),
            new(MetricNames.Eval(MetricNames.Target, Code, "exact_match"), 100, 0.30),
            new(MetricNames.Eval(MetricNames.Target, Math, "exact_match"), 0, 0.20),
            new(MetricNames.Eval(MetricNames.Target, Math, "exact_match"), 50, 0.25),
            new(MetricNames.Eval(MetricNames.Target, Math, "exact_match"), 100, 0.60),
            new(MetricNames.Eval(MetricNames.Target, Code, "loss"), 0, 2.0),
            new(MetricNames.Eval(MetricNames.Target, Code, "loss"), 100, 1.5),
            new(MetricNames.Eval(MetricNames.Source, Hellaswag, "acc_norm"), 0, 0.60),
            new(MetricNames.Eval(MetricNames.Source, Hellaswag, "acc_norm"), 100, 0.50),
            new(MetricNames.Eval(MetricNames.Source, Arc, "acc_norm"), 0, 0.40),
            new(MetricNames.Eval(MetricNames.Source, Arc, "acc_norm"), 100, 0.42),
            new(MetricNames.Eval(MetricNames.Source, Arc, "perplexity"), 0, 10.0),
            new(MetricNames.Eval(MetricNames.Source, Arc, "perplexity"), 100, 12.5),
            new(MetricNames.Eval(MetricNames.Validation, Code, "loss"), 0, 3.0),
            new(MetricNames.Eval(MetricNames.Validation, Code, "loss"), 100, 1.0),
            new(MetricNames.TrainLoss, 100, 0.9),
        ];

        var sides = LearningAndForgetting.From(points);

        Assert.Equal(0.30, sides.Learning["exact_match"], 12);   // mean of +0.20 and +0.40
        Assert.Equal(0.50, sides.Learning["loss"], 12);          // loss fell by 0.5
        Assert.Equal(0.04, sides.Forgetting["acc_norm"], 12);    // mean of −0.10 and +0.02 accuracy, as degradation
        Assert.Equal(2.5, sides.Forgetting["perplexity"], 12);   // perplexity rose by 2.5
        Assert.Equal(7, sides.Evaluations.Count);
        var validation = Assert.Single(sides.Evaluations, e => e.Role == MetricNames.Validation);
        Assert.Equal((3.0, 1.0, 100, 2.0), (validation.Baseline, validation.Final, validation.FinalStep, validation.Change));
    }

    [Fact]
    public void A_series_without_a_baseline_is_not_compared()
    {
        var sides = LearningAndForgetting.From([new(MetricNames.Eval(MetricNames.Source, Arc, "acc"), 10, 0.5)]);
        Assert.Empty(sides.Evaluations);
        Assert.Empty(sides.Forgetting);
    }

    [Theory]
    [InlineData("eval/source/44444444444444444444444444444444/acc_norm", true)]
    [InlineData("eval/source/not-a-guid/acc_norm", false)]
    [InlineData("train/loss", false)]
    public void Eval_names_parse_back(string name, bool parses)
    {
        Assert.Equal(parses, MetricNames.TryParseEval(name, out var role, out var dataset, out var metric));
        if (parses) Assert.Equal(("source", Arc, "acc_norm"), (role, dataset, metric));
    }
}
