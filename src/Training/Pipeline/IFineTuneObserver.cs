using LoraService.Training.Loop;

namespace LoraService.Training.Pipeline;

/// <summary>One metric of one evaluation. <see cref="Role"/> is <c>target</c>, <c>source</c> or <c>validation</c>.</summary>
public sealed record EvalMeasurement(string Role, Guid DatasetId, string Metric, double Value);

/// <summary>The samples one set recorded at one evaluation (see <see cref="Evaluation.EvalSample"/>).</summary>
public sealed record EvalSamples(string Role, Guid DatasetId, string Name, IReadOnlyList<Evaluation.EvalSample> Samples);

/// <summary>
/// What a run reports while it works, synchronously on the training thread (keep handlers short; throwing aborts the run).
/// </summary>
/// <remarks>
/// A fresh run reports: events, <see cref="OnEvaluation"/> at step 0 (the base model), then steps 1..N with
/// evaluations every <c>eval_every</c> steps and at step N, and checkpoints as they are written.
/// A resumed run (the work directory held checkpoint c) reports no step-0 evaluation and nothing at or before
/// step c: steps c+1..N, evaluations after c, and the final one. When the previous sitting was cancelled, its
/// cancel checkpoint is its last step, so the two sittings together report every step exactly once. After a
/// crash, steps between the last checkpoint and the crash are reported again (with the same values): store
/// metrics keyed by (name, step) and overwrite.
/// </remarks>
public interface IFineTuneObserver
{
    /// <summary>After every optimizer step; <see cref="TrainingProgress.Elapsed"/> counts training time across resumes.</summary>
    void OnStep(TrainingProgress progress);

    void OnEvaluation(int step, IReadOnlyList<EvalMeasurement> measurements);

    /// <summary>Right after <see cref="OnEvaluation"/>: the samples of the sets that record them (none when no set does).</summary>
    void OnSamples(int step, IReadOnlyList<EvalSamples> samples) { }

    /// <summary>A checkpoint directory, complete on disk.</summary>
    void OnCheckpoint(int step, string directory);

    /// <summary><paramref name="level"/> is <c>info</c> or <c>warning</c>.</summary>
    void OnEvent(string level, string message);

    /// <summary>An evaluation at <paramref name="step"/> was over the job's forgetting budget; <paramref name="message"/> says by how much.</summary>
    void OnForgettingBudgetExceeded(int step, string message) => OnEvent("warning", message);

    /// <summary>On resume, journaled metric points sent again (see <see cref="FineTuneRunSpec.ReplayMetricsFromStep"/>).</summary>
    void OnReplay(IReadOnlyList<MetricRecord> records) { }
}

/// <summary>An observer from delegates; any may be null.</summary>
public sealed class FineTuneCallbacks(
    Action<TrainingProgress>? onStep = null,
    Action<int, IReadOnlyList<EvalMeasurement>>? onEvaluation = null,
    Action<int, string>? onCheckpoint = null,
    Action<string, string>? onEvent = null,
    Action<int, IReadOnlyList<EvalSamples>>? onSamples = null) : IFineTuneObserver
{
    public static readonly FineTuneCallbacks None = new();

    public void OnStep(TrainingProgress progress) => onStep?.Invoke(progress);
    public void OnEvaluation(int step, IReadOnlyList<EvalMeasurement> measurements) => onEvaluation?.Invoke(step, measurements);
    public void OnCheckpoint(int step, string directory) => onCheckpoint?.Invoke(step, directory);
    public void OnEvent(string level, string message) => onEvent?.Invoke(level, message);
    public void OnSamples(int step, IReadOnlyList<EvalSamples> samples) => onSamples?.Invoke(step, samples);
}
