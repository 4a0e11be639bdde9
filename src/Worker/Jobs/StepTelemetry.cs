using LoraService.Contracts.Attempts;
using LoraService.ServiceDefaults.Observability;

namespace LoraService.Worker.Jobs;

/// <summary>Feeds one attempt's steps to the worker's /metrics: steps, step time (from the run's own clock), tokens/s and evaluation time.</summary>
internal sealed class StepTelemetry(string worker)
{
    private readonly KeyValuePair<string, object?> _worker = new("worker", worker);
    private AttemptStep? _previous;

    public void Record(AttemptStep step)
    {
        ServiceMetrics.TrainSteps.Add(1, _worker);
        ServiceMetrics.TokensPerSecond.Record(step.TokensPerSecond, _worker);
        // A resumed attempt's first step has no predecessor here; its time is unknown rather than guessed.
        if (_previous is { } before && step.Step > before.Step)
            ServiceMetrics.StepTime.Record((step.ElapsedSeconds - before.ElapsedSeconds) / (step.Step - before.Step), _worker);
        _previous = step;
    }

    public void Record(AttemptEvaluation evaluation)
    {
        if (evaluation.Seconds is { } seconds) ServiceMetrics.EvaluationTime.Record(seconds, _worker);
    }
}
