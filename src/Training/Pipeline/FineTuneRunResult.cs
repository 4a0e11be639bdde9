namespace LoraService.Training.Pipeline;

/// <summary><c>completed</c>: trained and exported; <c>cancelled</c>: stopped, checkpoint kept, nothing exported;
/// <c>no_steps</c>: nothing to train on, nothing exported.</summary>
public enum RunOutcome { Completed, Cancelled, NoSteps }

/// <summary>A file written under the output directory.</summary>
/// <param name="Kind">adapter, adapter_config, merged_model, model, spectral, metrics or summary.</param>
/// <param name="RelativePath">Relative to <see cref="FineTuneRunSpec.OutputDirectory"/>, with '/' separators.</param>
public sealed record ProducedFile(string Kind, string RelativePath, string ContentType);

/// <param name="StepsCompleted">Optimizer steps done, counting those before a resume.</param>
/// <param name="TokensSeen">Non-padding training tokens consumed, counting those before a resume.</param>
/// <param name="Export">Set when a forgetting budget chose to export an earlier step than the last one trained.</param>
public sealed record FineTuneRunResult(
    RunOutcome Outcome,
    int StepsCompleted,
    int TotalSteps,
    long TokensSeen,
    IReadOnlyList<ProducedFile> Files,
    Budget.ExportChoice? Export = null);
