using LoraService.Contracts.Attempts;

namespace LoraService.Contracts.Tests;

public sealed class AttemptProtocolTests
{
    [Fact]
    public void An_event_keeps_its_kind_and_step_across_the_pipe_and_a_plain_one_has_neither()
    {
        var line = AttemptProtocol.Serialize(new AttemptEvent("warning", "Forgetting budget crossed", AttemptEventTypes.ForgettingBudgetExceeded, 6));
        Assert.Contains("\"type\":\"event\"", line);
        Assert.Contains("\"kind\":\"forgetting_budget_exceeded\"", line);
        Assert.Equal(new AttemptEvent("warning", "Forgetting budget crossed", AttemptEventTypes.ForgettingBudgetExceeded, 6), AttemptProtocol.Parse(line));

        // A line from an older child (no kind, no step) still parses.
        Assert.Equal(new AttemptEvent("info", "hello"), AttemptProtocol.Parse("{\"type\":\"event\",\"level\":\"info\",\"message\":\"hello\"}"));
    }
}
