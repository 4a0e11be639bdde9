using LoraService.Contracts.Sweeps;

namespace LoraService.Contracts.Tests;

public sealed class ParetoFrontTests
{
    private static TradeOffPoint? P(double learning, double forgetting) => new TradeOffPoint(learning, forgetting);

    [Fact]
    public void A_point_is_off_the_front_when_another_learns_at_least_as_much_and_forgets_at_most_as_much()
    {
        TradeOffPoint?[] points =
        [
            P(0.10, 0.01), // front: forgets least
            P(0.30, 0.05), // front
            P(0.20, 0.06), // dominated by (0.30, 0.05)
            P(0.50, 0.20), // front: learns most
            P(0.25, 0.05), // dominated by (0.30, 0.05): same forgetting, less learning
            P(0.10, 0.03), // dominated by (0.10, 0.01): same learning, more forgetting
        ];

        Assert.Equal([true, true, false, true, false, false], ParetoFront.Mark(points));
    }

    [Fact]
    public void Identical_points_are_all_on_the_front_and_the_first_is_best()
    {
        TradeOffPoint?[] points = [P(0.2, 0.1), P(0.2, 0.1), P(0.1, 0.2)];

        Assert.Equal([true, true, false], ParetoFront.Mark(points));
        Assert.Equal(0, ParetoFront.BestWithin(points, null));
    }

    [Fact]
    public void A_single_point_is_the_front_and_the_best_when_within_the_limit()
    {
        TradeOffPoint?[] points = [P(-0.1, 0.4)];

        Assert.Equal([true], ParetoFront.Mark(points));
        Assert.Equal(0, ParetoFront.BestWithin(points, 0.4));
        Assert.Null(ParetoFront.BestWithin(points, 0.39));
    }

    [Fact]
    public void Missing_and_non_finite_points_take_no_part()
    {
        TradeOffPoint?[] points = [null, P(double.NaN, 0), P(0.1, 0.1), P(double.PositiveInfinity, 0)];

        Assert.Equal([false, false, true, false], ParetoFront.Mark(points));
        Assert.Equal(2, ParetoFront.BestWithin(points, null));
        Assert.Null(ParetoFront.BestWithin([null, P(double.NaN, 0)], null));
        Assert.Equal([], ParetoFront.Mark([]));
    }

    [Fact]
    public void Best_is_the_most_learning_within_the_limit_and_breaks_ties_by_less_forgetting()
    {
        TradeOffPoint?[] points = [P(0.10, 0.01), P(0.30, 0.05), P(0.30, 0.04), P(0.50, 0.20), P(0.40, 0.06)];

        Assert.Equal(3, ParetoFront.BestWithin(points, null));
        Assert.Equal(3, ParetoFront.BestWithin(points, 0.20));   // the limit is inclusive
        Assert.Equal(4, ParetoFront.BestWithin(points, 0.10));
        Assert.Equal(2, ParetoFront.BestWithin(points, 0.05));   // 0.30 learning twice: the one forgetting 0.04
        Assert.Equal(0, ParetoFront.BestWithin(points, 0.01));
        Assert.Null(ParetoFront.BestWithin(points, 0.005));      // no point within the limit
        Assert.Null(ParetoFront.BestWithin(points, -1));
    }

    [Fact]
    public void The_best_under_any_limit_is_on_the_front()
    {
        var random = new Random(7);
        var points = Enumerable.Range(0, 40).Select(_ => P(Math.Round(random.NextDouble(), 1), Math.Round(random.NextDouble(), 1))).ToArray();
        var front = ParetoFront.Mark(points);
        foreach (var limit in new[] { 0.0, 0.1, 0.25, 0.5, 0.9, 1.0 })
            if (ParetoFront.BestWithin(points, limit) is { } best) Assert.True(front[best], $"best {points[best]} under {limit} is off the front");
        // Cross-check the front against its definition by brute force.
        for (var i = 0; i < points.Length; i++)
        {
            var p = points[i]!.Value;
            var dominated = points.Any(q => q!.Value.Learning >= p.Learning && q.Value.Forgetting <= p.Forgetting && q.Value != p);
            Assert.Equal(!dominated, front[i]);
        }
    }
}
