using LoraService.Contracts.Attempts;
using LoraService.Worker.Jobs;

namespace LoraService.Worker.Tests;

/// <summary>How an attempt's end is named, from its last message, its exit status and what the worker did to it.</summary>
public sealed class AttemptOutcomeTests
{
    private static readonly AttemptResult Cancelled = new("cancelled", 3, 10, 30, []);

    [Theory]
    [InlineData(137, false, "crashed", "signal 9 (SIGKILL)")]
    [InlineData(137, true, "out_of_memory", "out-of-memory killer")]
    [InlineData(139, false, "crashed", "signal 11 (SIGSEGV)")]
    [InlineData(134, true, "crashed", "signal 6 (SIGABRT)")]
    [InlineData(3, false, "crashed", "exited with code 3")]
    public void A_child_that_died_without_a_word_is_named_by_its_exit(int exitCode, bool oomKilled, string code, string detail)
    {
        var outcome = AttemptOutcome.Classify(null, null, exitCode, StopReason.None, oomKilled, "last words");
        Assert.Equal(code, outcome.Code);
        Assert.Contains(detail, outcome.Detail);
        Assert.Contains("last words", outcome.Detail);
        Assert.True(outcome.IsAbnormal);
    }

    [Fact]
    public void The_child_s_own_account_wins_and_a_stop_for_shutdown_is_a_hand_back()
    {
        Assert.Equal("out_of_memory", AttemptOutcome.Classify(null, new AttemptError("out_of_memory", "DefaultCPUAllocator: can't allocate memory"), 1, StopReason.None, false, "").Code);
        Assert.Equal("cancelled", AttemptOutcome.Classify(Cancelled, null, 0, StopReason.Cancel, false, "").Code);
        Assert.Equal("handed_back", AttemptOutcome.Classify(Cancelled, null, 0, StopReason.Shutdown, false, "").Code);
        Assert.Equal("handed_back", AttemptOutcome.Classify(null, null, 137, StopReason.Shutdown, false, "").Code);
        Assert.Equal("hung", AttemptOutcome.Classify(null, null, 137, StopReason.Hung, false, "").Code);
        Assert.False(AttemptOutcome.Classify(null, new AttemptError("invalid_input", "no such file"), 1, StopReason.None, false, "").IsAbnormal);
    }

    [Fact]
    public void A_stop_at_the_wall_time_limit_is_its_own_end_and_not_a_fault()
    {
        var stopped = AttemptOutcome.Classify(Cancelled, null, 0, StopReason.WallTime, false, "");
        Assert.Equal(("max_wall_time", "stopped at the job's max_wall_time after 3/10 steps"), (stopped.Code, stopped.Detail));
        Assert.False(stopped.IsAbnormal);
        Assert.Equal("max_wall_time", AttemptOutcome.Classify(null, null, 137, StopReason.WallTime, false, "").Code);
        // A run that completed just as the limit came is a success.
        Assert.Equal("completed", AttemptOutcome.Classify(new AttemptResult("completed", 10, 10, 30, []), null, 0, StopReason.WallTime, false, "").Code);
    }
}
