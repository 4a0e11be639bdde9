using System.Text.Json;
using System.Text.Json.Serialization;
using LoraService.Contracts.Attempts;
using LoraService.Contracts.Jobs;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Models;
using LoraService.Training.Pipeline.Provenance;
using LoraService.Training.Spectral;
using static TorchSharp.torch;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>
/// Export: the weights (LoRA: <c>adapter/</c> and, with export_merged, <c>merged/</c>; full: <c>model/</c>),
/// <c>spectral.json</c>, <c>metrics.jsonl</c> and <c>summary.json</c>, written in a staging folder and then published.
/// A full disk fails it with <see cref="DiskFullException"/> and leaves no staging folder; the checkpoints stay for a resume.
/// </summary>
internal static class ExportStage
{
    /// <summary>spectral.json and summary.json: snake_case, indented; a NaN metric is written as "NaN" rather than failing the export.</summary>
    private static readonly JsonSerializerOptions ArtifactJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
    };

    public static IReadOnlyList<ProducedFile> Write(RunContext run, CausalLM model, MetricsJournal journal, EvaluationSets evals,
        FineTuneRunResult trained, RunProvenance provenance)
    {
        RunPulse.Enter(RunPulse.Exporting);
        var output = run.Spec.OutputDirectory;
        Directory.CreateDirectory(output);
        var staging = Path.Combine(output, $".tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var spectral = Weights(run, model, staging);
            RunPulse.Beat();
            var method = run.Job.Method == FineTuneMethod.Lora ? "lora" : "full";
            Json(staging, RunLayout.SpectralFile, new SpectralReport(method, spectral));
            var metrics = journal.Deduplicated();
            AtomicFile.WriteAllText(Path.Combine(staging, RunLayout.MetricsFile), string.Concat(metrics.Select(m => MetricsJournal.Line(m) + "\n")));
            Json(staging, RunLayout.SummaryFile, RunSummary.Build(method, metrics, evals.Names, trained.StepsCompleted, trained.TotalSteps,
                trained.TokensSeen, spectral, provenance, trained.Export));
            return Publish.Move(staging, output);
        }
        catch (Exception e) when (e is not DiskFullException && DiskFullException.IsDiskFull(e))
        {
            throw new DiskFullException($"no space left on device while writing the export of step {trained.StepsCompleted} to {output}", e);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Writes the trained weights and returns their ΔW spectra.</summary>
    private static IReadOnlyList<SpectralEntry> Weights(RunContext run, CausalLM model, string staging)
    {
        var spec = run.Spec;
        if (run.Job.Method == FineTuneMethod.Lora)
        {
            AdapterExporter.Save(model, Path.Combine(staging, RunLayout.AdapterFolder), spec.BaseModelName);
            RunPulse.Beat();
            if (run.Job.ExportMerged == true)
                CheckpointExporter.Save(model, Path.Combine(staging, RunLayout.MergedFolder), spec.ModelDirectory);
            RunPulse.Beat();
            return SpectralAnalysis.ForLora(model);
        }
        CheckpointExporter.Save(model, Path.Combine(staging, RunLayout.ModelFolder), spec.ModelDirectory);
        RunPulse.Beat();
        // ΔW = W_ft − W_0 needs the base weights again; keep them off the accelerator.
        using var baseModel = CheckpointLoader.Load(spec.ModelDirectory, CPU);
        return SpectralAnalysis.ForFullFineTune(model, baseModel);
    }

    private static void Json<T>(string folder, string file, T value) =>
        AtomicFile.WriteAllText(Path.Combine(folder, file), JsonSerializer.Serialize(value, ArtifactJson));
}
