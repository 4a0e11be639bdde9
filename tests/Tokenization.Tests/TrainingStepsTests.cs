using LoraService.Tokenization.Planning;

namespace LoraService.Tokenization.Tests;

public sealed class TrainingStepsTests
{
    [Theory]
    [InlineData(10, 4, 1, 1, null, 3)] // 3 micro-batches, the last one short
    [InlineData(10, 4, 2, 3, null, 5)] // 9 micro-batches over 3 epochs, 2 per step: the last step takes one
    [InlineData(8, 4, 2, 1, null, 1)]
    [InlineData(1, 8, 4, 2, null, 1)]
    [InlineData(10, 4, 2, 3, 7, 7)] // max_steps wins, cycling epochs
    public void Steps_cover_every_epoch_s_micro_batches_unless_max_steps_is_set(int examples, int microBatch, int accumulation, int epochs,
        int? maxSteps, int expected) =>
        Assert.Equal(expected, TrainingSteps.Total(examples, microBatch, accumulation, epochs, maxSteps));
}
