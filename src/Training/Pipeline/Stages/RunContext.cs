using LoraService.Contracts.Jobs;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>What every stage of a run reads: the spec, its resolved job, the observer and the cancel.</summary>
internal sealed record RunContext(FineTuneRunSpec Spec, JobSpec Job, IFineTuneObserver Observer, CancellationToken Cancellation)
{
    /// <summary>Refuses a spec the job rules reject; every setting is read from the resolved job.</summary>
    public static RunContext Create(FineTuneRunSpec spec, IFineTuneObserver observer, CancellationToken cancellationToken) =>
        new(spec, spec.ResolvedJob(), observer, cancellationToken);

    public void Info(string message) => Observer.OnEvent("info", message);

    public void Warn(string message) => Observer.OnEvent("warning", message);
}
