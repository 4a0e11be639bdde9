using LoraService.Contracts;
using LoraService.Datasets;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using LoraService.Training.Pipeline;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Worker.Jobs;

/// <summary>A job input that cannot be used (a model or dataset that disappeared); the job fails with this code.</summary>
internal sealed class JobInputException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>Turns a stored job into the engine's run spec: files resolved by id through the artifact store, never by client paths.</summary>
internal static class RunSpecBuilder
{

    /// <summary>Writes the spec the attempt's child process reads, in the work folder (kept for post-mortems).</summary>
    public static string WriteAttemptSpec(FineTuneRunSpec spec, int attempt)
    {
        var directory = Path.Combine(spec.WorkDirectory, "attempts");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"attempt-{attempt}.json");
        File.WriteAllText(path, spec.ToJson());
        return path;
    }

    /// <summary>Resolves the stored spec's references: model name → folder, dataset ids → files, job id → work and output folders.</summary>
    public static async Task<FineTuneRunSpec> BuildAsync(FineTuneJob job, LoraDbContext db, IArtifactStore store, LoraOptions lora, string deviceKind, CancellationToken ct)
    {
        var spec = job.Spec;
        var modelDirectory = Path.GetFullPath(Path.Combine(lora.ModelsPath, spec.BaseModel!));
        if (!File.Exists(Path.Combine(modelDirectory, "config.json")))
            throw new JobInputException("model_not_found", $"Base model '{spec.BaseModel}' is no longer in the models folder.");

        var datasets = await db.Datasets.FindForAsync(spec, job.TenantId, ct);
        var files = new Dictionary<string, RunDataset>();
        foreach (var reference in spec.DatasetReferences().Select(d => d.Reference).Distinct())
        {
            if (!datasets.TryGetValue(reference, out var dataset) || !store.Exists(dataset.StorageKey)
                || !DatasetFormatNames.TryParse(dataset.Format, out var format))
                throw new JobInputException("dataset_not_found", $"Dataset {reference} was deleted.");
            files[reference] = new RunDataset(dataset.Id, dataset.Name, store.PathFor(dataset.StorageKey), format);
        }

        // A resumed attempt sends its journal again from the last step stored here: points the previous attempt computed
        // but its worker did not store before dying fill the gap up to the checkpoint (upserts make the overlap harmless).
        var lastStored = await db.MetricPoints.Where(m => m.JobId == job.Id && m.Name == MetricNames.TrainLoss).MaxAsync(m => (int?)m.Step, ct);
        return new FineTuneRunSpec
        {
            Job = spec,
            ModelDirectory = modelDirectory,
            BaseModelName = spec.BaseModel!,
            Datasets = files,
            WorkDirectory = store.PathFor(JobStorageKeys.Work(job.Id)),
            OutputDirectory = store.PathFor(JobStorageKeys.Output(job.Id)),
            Device = deviceKind == "cuda" ? DevicePreference.Cuda : DevicePreference.Cpu,
            ReplayMetricsFromStep = lastStored ?? 0,
        };
    }
}
