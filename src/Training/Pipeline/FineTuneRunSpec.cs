using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Training.Models;

namespace LoraService.Training.Pipeline;

public enum DevicePreference { Auto, Cpu, Cuda }

/// <summary>
/// A <see cref="JobSpec"/> with its references resolved: the model folder, the file behind each dataset reference, and
/// where the run works and publishes. Everything <see cref="FineTuneRun.Execute"/> needs; it reads every setting from
/// <see cref="Job"/>. Serialises with <see cref="JobSpecJson.Options"/>.
/// </summary>
/// <remarks>Resuming: if <see cref="WorkDirectory"/> already holds a checkpoint, the run continues from the latest one.</remarks>
public sealed record FineTuneRunSpec
{
    public required JobSpec Job { get; init; }
    /// <summary>A Hugging Face checkpoint directory (config.json, safetensors, tokenizer.json).</summary>
    public required string ModelDirectory { get; init; }
    /// <summary>What users load the base model by: the adapter's <c>base_model_name_or_path</c>, never a local path.</summary>
    public required string BaseModelName { get; init; }
    /// <summary>The file behind each dataset reference of <see cref="Job"/>.</summary>
    public required IReadOnlyDictionary<string, RunDataset> Datasets { get; init; }
    /// <summary>Checkpoints and the run's metric journal; a checkpoint here means "resume".</summary>
    public required string WorkDirectory { get; init; }
    /// <summary>Final artifacts, written only when the run completes.</summary>
    public required string OutputDirectory { get; init; }
    public DevicePreference Device { get; init; } = DevicePreference.Auto;
    /// <summary>
    /// On resume, report the journal's metrics from this step on again (<see cref="IFineTuneObserver.OnReplay"/>), up to the
    /// checkpoint: a service passes the last step it stored, so points lost in flight when a worker died are restored.
    /// Null: no replay.
    /// </summary>
    public int? ReplayMetricsFromStep { get; init; }

    public static FineTuneRunSpec FromJson(string json) =>
        JsonSerializer.Deserialize<FineTuneRunSpec>(json, JobSpecJson.Options) ?? throw new JsonException("the spec is null");

    public static FineTuneRunSpec Load(string path) => FromJson(File.ReadAllText(path));

    public string ToJson() => JsonSerializer.Serialize(this, JobSpecJson.Options);

    public RunDataset Dataset(string reference) => Datasets[reference];

    /// <summary>The job's rules (<see cref="JobSpecValidator"/>) against this model folder and these files; empty when usable.</summary>
    public IReadOnlyList<string> Validate() => Check().Errors;

    /// <summary>The job with its model-dependent defaults filled in (a no-op for a spec the service resolved).</summary>
    /// <exception cref="ArgumentException">The spec breaks the job rules; the message lists every problem.</exception>
    public JobSpec ResolvedJob() => Check() switch
    {
        ({ } job, _) => job,
        (_, var errors) => throw new ArgumentException($"invalid fine-tune spec: {string.Join("; ", errors)}", "spec"),
    };

    /// <summary>Validates and resolves against one reading of the model folder: the resolved job, or the problems.</summary>
    public (JobSpec? Job, IReadOnlyList<string> Errors) Check()
    {
        if (Job is null || Datasets is null) return (null, ["job and datasets are required"]);
        if (string.IsNullOrWhiteSpace(WorkDirectory)) return (null, ["work_directory is required"]);
        if (string.IsNullOrWhiteSpace(OutputDirectory)) return (null, ["output_directory is required"]);
        var (resolved, errors) = JobSpecResolver.Check(Job, Context());
        return (resolved, errors.SelectMany(e => e.Value.Select(m => $"{e.Key}: {m}")).ToList());
    }

    private JobSpecContext Context()
    {
        ModelFacts? model = null;
        string? problem = null;
        try
        {
            model = ModelInspector.Inspect(ModelDirectory).Facts(BaseModelName);
        }
        catch (Exception e)
        {
            problem = $"cannot read the model in {ModelDirectory}: {e.Message}";
        }
        return new JobSpecContext(model, problem,
            reference => Datasets.TryGetValue(reference, out var d) && File.Exists(d.Path) ? new DatasetFacts(reference, d.Name, d.Format.ToWireName()) : null,
            " (no such file)");
    }
}

/// <summary>The file behind a dataset reference. <paramref name="Id"/> names its metrics (<c>eval/&lt;role&gt;/&lt;id&gt;/…</c>).</summary>
public sealed record RunDataset(Guid Id, string Name, string Path, DatasetFormat Format);
