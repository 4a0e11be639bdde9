using LoraService.Contracts.Sweeps;

namespace LoraService.Contracts.Tests;

public sealed class TradeOffsTests
{
    private static readonly Guid Target = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid Source = Guid.Parse("22222222-2222-2222-2222-222222222222");

    private static MetricValue T(string metric, int step, double value) => new(MetricNames.Eval(MetricNames.Target, Target, metric), step, value);
    private static MetricValue S(string metric, int step, double value) => new(MetricNames.Eval(MetricNames.Source, Source, metric), step, value);

    [Fact]
    public void The_default_metric_is_the_loss_when_measured_else_the_first_preferred_one()
    {
        Assert.Equal("loss", TradeOffs.DefaultMetric(["exact_match", "loss", "token_accuracy"]));
        Assert.Equal("acc_norm", TradeOffs.DefaultMetric(["acc", "acc_norm"]));
        Assert.Equal("exact_match", TradeOffs.DefaultMetric(["exact_match"]));
        Assert.Null(TradeOffs.DefaultMetric([]));
    }

    [Fact]
    public void The_point_and_its_path_follow_the_summary_definitions_step_by_step()
    {
        MetricValue[] points =
        [
            T("loss", 0, 2.0), T("loss", 10, 1.5), T("loss", 20, 1.2),
            S("loss", 0, 1.0), S("loss", 10, 1.1), S("loss", 20, 1.3),
            S("acc_norm", 0, 0.6), S("acc_norm", 20, 0.5),
        ];
        var metrics = new TradeOffMetrics("loss", "loss");

        var final = TradeOffs.Final(LearningAndForgetting.From(points), metrics);
        Assert.Equal(0.8, final!.Value.Learning, 12);
        Assert.Equal(0.3, final.Value.Forgetting, 12);

        var path = TradeOffs.Path(points, metrics);
        Assert.Equal([0, 10, 20], path.Select(p => p.Step));
        Assert.Equal([0.0, 0.5, 0.8], path.Select(p => Math.Round(p.Learning, 12)));
        Assert.Equal([0.0, 0.1, 0.3], path.Select(p => Math.Round(p.Forgetting, 12)));

        var byAccuracy = TradeOffs.Final(LearningAndForgetting.From(points), new TradeOffMetrics("loss", "acc_norm"));
        Assert.Equal(0.1, byAccuracy!.Value.Forgetting, 12);
    }

    [Fact]
    public void A_job_evaluated_only_at_step_0_or_without_the_metric_has_no_point()
    {
        MetricValue[] baseline = [T("loss", 0, 2.0), S("loss", 0, 1.0)];
        Assert.Null(TradeOffs.Final(LearningAndForgetting.From(baseline), new TradeOffMetrics("loss", "loss")));
        Assert.Null(TradeOffs.Final(LearningAndForgetting.From([.. baseline, T("loss", 5, 1.0), S("loss", 5, 1.1)]), new TradeOffMetrics("loss", "acc")));
        Assert.Null(TradeOffs.Final(LearningAndForgetting.From([.. baseline, T("loss", 5, double.NaN), S("loss", 5, 1.1)]), new TradeOffMetrics("loss", "loss")));
    }
}
