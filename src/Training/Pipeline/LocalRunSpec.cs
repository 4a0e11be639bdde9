using System.Security.Cryptography;
using System.Text;
using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Training.Models;

namespace LoraService.Training.Pipeline;

/// <summary>
/// The CLI's resolution of a <see cref="JobSpec"/>: <c>base_model</c> is a checkpoint folder and each dataset a JSONL
/// file, both relative to the spec file's folder. Checked with the same <see cref="JobSpecValidator"/> as the service.
/// </summary>
public static class LocalRunSpec
{
    public static (FineTuneRunSpec? Spec, IReadOnlyList<string> Errors) Build(
        JobSpec job, string baseDirectory, string workDirectory, string outputDirectory, DevicePreference device)
    {
        string Full(string path) => Path.GetFullPath(Path.Combine(baseDirectory, path));
        var errors = new List<string>();

        ModelInfo? model = null;
        string? modelProblem = null;
        var modelDirectory = string.IsNullOrWhiteSpace(job.BaseModel) ? "" : Full(job.BaseModel);
        try
        {
            if (modelDirectory.Length > 0) model = ModelInspector.Inspect(modelDirectory);
        }
        catch (Exception e)
        {
            modelProblem = $"no Hugging Face checkpoint in {modelDirectory}: {e.Message}";
        }
        var modelName = model?.NameOrPath ?? Path.GetFileName(modelDirectory);

        var datasets = new Dictionary<string, RunDataset>();
        foreach (var (field, reference, _) in job.DatasetReferences())
        {
            var path = Full(reference);
            if (datasets.ContainsKey(path) || !File.Exists(path)) continue;
            try
            {
                datasets[path] = new RunDataset(IdOf(path), Path.GetFileNameWithoutExtension(path), path, ExamplePreparation.DetectFormat(path));
            }
            catch (InvalidDataException e)
            {
                errors.Add($"{field}: {e.Message}");
            }
        }

        var context = new JobSpecContext(model?.Facts(modelName), modelProblem,
            reference => datasets.TryGetValue(Full(reference), out var d) ? new DatasetFacts(d.Path, d.Name, d.Format.ToWireName()) : null,
            " (no such file)");
        var (resolved, invalid) = JobSpecResolver.Check(job, context);
        errors.AddRange(invalid.SelectMany(e => e.Value.Select(m => $"{e.Key}: {m}")));
        if (errors.Count > 0 || resolved is null) return (null, errors.Distinct().ToList());
        return (new FineTuneRunSpec
        {
            Job = resolved,
            ModelDirectory = modelDirectory,
            BaseModelName = modelName,
            Datasets = datasets,
            WorkDirectory = Path.GetFullPath(workDirectory),
            OutputDirectory = Path.GetFullPath(outputDirectory),
            Device = device,
        }, []);
    }

    /// <summary>A stable id for a file, so its metric names are the same each time the spec runs (and on resume).</summary>
    private static Guid IdOf(string path) => new(SHA256.HashData(Encoding.UTF8.GetBytes(path)).AsSpan(0, 16));
}
