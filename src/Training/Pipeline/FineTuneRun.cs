using LoraService.Training.Pipeline.Provenance;
using LoraService.Training.Pipeline.Stages;

namespace LoraService.Training.Pipeline;

/// <summary>
/// One fine-tuning run end to end, as the worker and the CLI call it: prepare data → load model → apply LoRA or unfreeze
/// → train (base model evaluated at step 0, then every N steps and at the end; checkpoints) → export adapter / merged /
/// full model, spectral.json, metrics.jsonl, summary.json → publish. Synchronous: TorchSharp dispose scopes are thread-local.
/// </summary>
/// <remarks>
/// Folders: <see cref="RunLayout"/>. If the work directory holds a checkpoint the run resumes from the newest one (same
/// data order, weights, optimizer and RNG state, so it ends where an uninterrupted run would), provided the base model's
/// weights are those of the first start (<see cref="BaseModelChangedException"/> otherwise). Each top-level output entry
/// is written in a temporary folder and renamed into place.
/// </remarks>
public static class FineTuneRun
{
    /// <remarks>
    /// A cancel is honoured in every phase and never surfaces as <see cref="OperationCanceledException"/>: during data
    /// preparation, hashing, model load or an evaluation (the step-0 baseline included) the run returns
    /// <see cref="RunOutcome.Cancelled"/> at the next batch, example, chunk or phase boundary, keeping the trainer's
    /// checkpoints. The cancel is checked once more right before export; an export already under way finishes (it is
    /// atomic). Progress is reported to <see cref="RunPulse"/> throughout.
    /// </remarks>
    public static FineTuneRunResult Execute(FineTuneRunSpec spec, IFineTuneObserver? observer = null, CancellationToken cancellationToken = default)
    {
        observer ??= FineTuneCallbacks.None;
        RunPulse.Enter(RunPulse.Preparing);
        var totalSteps = 0;
        try
        {
            return Run(spec, observer, total => totalSteps = total, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled outside the trainer's step loop (data, model load, evaluation set-up): nothing new was checkpointed.
            var (latest, step) = ResumePoint.Find(spec.WorkDirectory);
            observer.OnEvent("info", latest is null ? "Cancelled before any checkpoint" : $"Cancelled; resuming will start from step {step} ({latest})");
            return new FineTuneRunResult(RunOutcome.Cancelled, step ?? 0, totalSteps, 0, []);
        }
    }

    private static FineTuneRunResult Run(FineTuneRunSpec spec, IFineTuneObserver observer, Action<int> knownTotalSteps, CancellationToken ct)
    {
        // A run cancelled before it starts returns cancelled, whatever its spec (the caller may be shutting down).
        ct.ThrowIfCancellationRequested();
        var run = RunContext.Create(spec, observer, ct);
        var resume = ResumePoint.Open(spec.WorkDirectory);
        if (ct.IsCancellationRequested) return new FineTuneRunResult(RunOutcome.Cancelled, resume.Step ?? 0, 0, 0, []);
        var provenance = ProvenanceStage.Establish(run, resume);

        using var data = DataStage.Prepare(run);
        if (data.Training.Examples.Count == 0) return DataStage.NothingToTrain(run);

        using var model = ModelStage.Load(run);
        var trainable = MethodStage.Apply(run, model);
        var evals = EvaluationSets.Prepare(run, model, data);

        using var journal = MetricsJournal.Open(spec.WorkDirectory, resume.Step);
        var trained = TrainStage.Run(run, model, trainable, data, evals, journal, resume, knownTotalSteps);
        if (trained.Outcome != RunOutcome.Completed) return trained;

        var files = ExportStage.Write(run, model, journal, evals, trained, provenance);
        run.Info($"Completed {trained.StepsCompleted} steps; wrote {files.Count} files to {spec.OutputDirectory}");
        return trained with { Files = files };
    }
}
