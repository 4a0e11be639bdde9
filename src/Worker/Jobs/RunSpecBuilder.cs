using LoraService.Contracts;
using LoraService.Datasets;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using LoraService.Training.Pipeline;
using LoraService.Training.Training;
using Microsoft.EntityFrameworkCore;
using DomainMethod = LoraService.Domain.Jobs.FineTuneMethod;
using EngineMethod = LoraService.Training.Pipeline.FineTuneMethod;

namespace LoraService.Worker.Jobs;

/// <summary>A job input that cannot be used (a model or dataset that disappeared); the job fails with this code.</summary>
internal sealed class JobInputException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>Turns a stored job into the engine's run spec: files resolved by id through the artifact store, never by client paths.</summary>
internal static class RunSpecBuilder
{
    public static string WorkKey(Guid jobId) => $"jobs/{jobId:N}/work";
    public static string OutputKey(Guid jobId) => $"jobs/{jobId:N}/output";

    /// <summary>Writes the spec the attempt's child process reads, in the work folder (kept for post-mortems).</summary>
    public static string WriteAttemptSpec(FineTuneRunSpec spec, int attempt)
    {
        var directory = Path.Combine(spec.WorkDirectory, "attempts");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"attempt-{attempt}.json");
        File.WriteAllText(path, spec.ToJson());
        return path;
    }

    public static async Task<FineTuneRunSpec> BuildAsync(FineTuneJob job, LoraDbContext db, IArtifactStore store, LoraOptions lora, string deviceKind, CancellationToken ct)
    {
        var spec = job.Spec;
        var modelDirectory = Path.GetFullPath(Path.Combine(lora.ModelsPath, spec.BaseModel));
        if (!File.Exists(Path.Combine(modelDirectory, "config.json")))
            throw new JobInputException("model_not_found", $"Base model '{spec.BaseModel}' is no longer in the models folder.");

        var ids = new List<Guid> { spec.TrainingDataset };
        if (spec.ValidationDataset is { } v) ids.Add(v);
        ids.AddRange(spec.Evaluation.Target);
        ids.AddRange(spec.Evaluation.Source);
        var datasets = await db.Datasets.AsNoTracking().Where(d => ids.Contains(d.Id) && d.TenantId == job.TenantId).ToDictionaryAsync(d => d.Id, ct);

        DatasetRef Ref(Guid id)
        {
            if (!datasets.TryGetValue(id, out var dataset) || !store.Exists(dataset.StorageKey))
                throw new JobInputException("dataset_not_found", $"Dataset {id} was deleted.");
            DatasetFormatNames.TryParse(dataset.Format, out var format);
            return new DatasetRef(id, store.PathFor(dataset.StorageKey), format);
        }
        EvalSetSpec Eval(Guid id, EvalRole role)
        {
            var reference = Ref(id);
            return new EvalSetSpec(id, datasets[id].Name, role, reference.Path, reference.Format, spec.Evaluation.MaxNewTokens);
        }

        // A resumed attempt sends its journal again from the last step stored here: points the previous attempt computed
        // but its worker did not store before dying fill the gap up to the checkpoint (upserts make the overlap harmless).
        var lastStored = await db.MetricPoints.Where(m => m.JobId == job.Id && m.Name == MetricNames.TrainLoss).MaxAsync(m => (int?)m.Step, ct);
        var h = spec.Hyperparameters;
        return new FineTuneRunSpec
        {
            ReplayMetricsFromStep = lastStored ?? 0,
            ModelDirectory = modelDirectory,
            BaseModelName = spec.BaseModel,
            Method = spec.Method == DomainMethod.Full ? EngineMethod.Full : EngineMethod.Lora,
            Lora = spec.Lora is { } l ? new LoraSpec(l.Rank, l.ResolvedAlpha, l.Dropout, l.TargetModules, l.UseRsLora, l.LoraPlusRatio) : null,
            Hyperparameters = new HyperparameterSpec(
                h.LearningRate, h.Epochs, h.MaxSteps, h.BatchSize, h.MicroBatchSize, h.MaxSequenceLength, h.WeightDecay,
                Enum.Parse<ScheduleKind>(h.Schedule, ignoreCase: true), h.WarmupRatio, h.WarmupSteps, h.MinLearningRateRatio,
                h.GradientClip, h.TrainOnInputs, h.FreezeEmbeddings, h.ChatTemplate, h.Seed),
            TrainingDataset = Ref(spec.TrainingDataset),
            ValidationDataset = spec.ValidationDataset is { } validation ? Ref(validation) : null,
            EvalSets = [.. spec.Evaluation.Target.Select(id => Eval(id, EvalRole.Target)), .. spec.Evaluation.Source.Select(id => Eval(id, EvalRole.Source))],
            EvalEvery = spec.Evaluation.EveryNSteps,
            MaxEvalExamples = spec.Evaluation.MaxExamples,
            CheckpointEvery = spec.CheckpointEvery,
            WorkDirectory = store.PathFor(WorkKey(job.Id)),
            OutputDirectory = store.PathFor(OutputKey(job.Id)),
            Device = deviceKind == "cuda" ? DevicePreference.Cuda : DevicePreference.Cpu,
        };
    }
}
