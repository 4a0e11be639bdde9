using LoraService.Contracts.Jobs;
using LoraService.Training.Loop;

namespace LoraService.Training.Tests;

public sealed class LearningRateScheduleTests
{
    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(5, 0.5)]
    [InlineData(10, 1.0)]
    [InlineData(55, 0.5)]      // (100 − 55) / 90
    [InlineData(99, 1.0 / 90)]
    [InlineData(100, 0.0)]
    public void Linear_with_warmup_steps(int step, double expected) =>
        Assert.Equal(expected, new LearningRateSchedule(new ScheduleOptions(ScheduleKind.Linear, WarmupSteps: 10), 100).Factor(step), 12);

    [Theory]
    [InlineData(10, 1.0)]
    [InlineData(55, 0.5)]      // ½(1 + cos(π/2))
    [InlineData(40, 0.75)]     // progress 1/3: ½(1 + cos(π/3))
    [InlineData(100, 0.0)]
    public void Cosine_with_warmup_ratio(int step, double expected)
    {
        var schedule = new LearningRateSchedule(new ScheduleOptions(ScheduleKind.Cosine, WarmupRatio: 0.1), 100);
        Assert.Equal(10, schedule.WarmupSteps);
        Assert.Equal(expected, schedule.Factor(step), 12);
    }

    [Theory]
    [InlineData(ScheduleKind.Cosine, 55, 0.1 + 0.9 * 0.5)]
    [InlineData(ScheduleKind.Cosine, 100, 0.1)]
    [InlineData(ScheduleKind.Linear, 55, 0.1 + 0.9 * 0.5)]
    [InlineData(ScheduleKind.Linear, 100, 0.1)]
    public void Min_learning_rate_ratio_is_the_floor(ScheduleKind kind, int step, double expected) =>
        Assert.Equal(expected, new LearningRateSchedule(new ScheduleOptions(kind, WarmupSteps: 10, MinLearningRateRatio: 0.1), 100).Factor(step), 12);

    [Fact]
    public void Constant_after_warmup_and_warmup_ratio_rounds_up()
    {
        var schedule = new LearningRateSchedule(new ScheduleOptions(ScheduleKind.Constant, WarmupRatio: 0.05), 30);
        Assert.Equal(2, schedule.WarmupSteps);   // ceil(1.5)
        Assert.Equal([0.0, 0.5, 1.0, 1.0], new[] { 0, 1, 2, 29 }.Select(schedule.Factor));
    }

    [Fact]
    public void Cosine_at_arbitrary_steps_matches_the_formula()
    {
        var schedule = new LearningRateSchedule(new ScheduleOptions(ScheduleKind.Cosine, WarmupSteps: 7, MinLearningRateRatio: 0.2), 53);
        foreach (var step in new[] { 7, 13, 31, 52 })
        {
            var progress = (step - 7) / 46.0;
            Assert.Equal(0.2 + 0.8 * 0.5 * (1 + Math.Cos(Math.PI * progress)), schedule.Factor(step), 12);
        }
        Assert.Equal(3 / 7.0, schedule.Factor(3), 12);
    }
}
