using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Training.Checkpoints;
using LoraService.Training.Pipeline.Stages;

namespace LoraService.Training.Pipeline.Provenance;

/// <summary>
/// Provenance: digests of the base model's weights and of every dataset file. The first start records the weights digest
/// in the work directory (<see cref="RunLayout.ProvenanceFile"/>); a resume recomputes it and refuses other weights, since
/// its checkpoints only make sense on the weights they were trained on.
/// </summary>
internal static class ProvenanceStage
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <exception cref="BaseModelChangedException">A resume on weights other than those of the first start.</exception>
    public static RunProvenance Establish(RunContext run, ResumePoint resume)
    {
        var (spec, job, ct) = (run.Spec, run.Job, run.Cancellation);
        var weights = WeightsDigest.Compute(spec.ModelDirectory, ct);
        var baseModel = new BaseModelProvenance(spec.BaseModelName, weights.Sha256, weights.Files);
        CheckOrRecord(run, resume, baseModel);
        var datasets = new Dictionary<string, DatasetDigest>();
        foreach (var (_, reference, _) in job.DatasetReferences())
            if (!datasets.ContainsKey(reference))
            {
                var path = spec.Dataset(reference).Path;
                datasets[reference] = new DatasetDigest(Path.GetFileName(path), FileDigest.Sha256(path, ct));
            }
        return new RunProvenance(RunProvenance.CurrentEngineVersion, JsonSerializer.SerializeToElement(job, JobSpecJson.Options), baseModel, datasets);
    }

    private static void CheckOrRecord(RunContext run, ResumePoint resume, BaseModelProvenance current)
    {
        var path = Path.Combine(run.Spec.WorkDirectory, RunLayout.ProvenanceFile);
        if (resume.IsResume && File.Exists(path))
        {
            var recorded = JsonSerializer.Deserialize<BaseModelProvenance>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path} is empty");
            if (recorded.WeightsSha256 != current.WeightsSha256)
                throw new BaseModelChangedException(
                    $"The base model's weights changed since this run started, so it cannot resume from step {resume.Step}: " +
                    $"its checkpoints were trained on weights {recorded.WeightsSha256}, {run.Spec.ModelDirectory} now holds " +
                    $"{current.WeightsSha256} ({Changes(recorded.WeightFiles, current.WeightFiles)}). " +
                    "Restore the original weights, or start the job over.");
            return;
        }
        if (resume.IsResume)
            run.Warn($"The work directory has no {RunLayout.ProvenanceFile}: the base model's weights at the first start are unknown; " +
                $"recording the current ones ({current.WeightsSha256})");
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(current, Json));
    }

    private static string Changes(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> now)
    {
        var changed = before.Keys.Intersect(now.Keys).Where(f => before[f] != now[f]).Order(StringComparer.Ordinal);
        var removed = before.Keys.Except(now.Keys).Order(StringComparer.Ordinal);
        var added = now.Keys.Except(before.Keys).Order(StringComparer.Ordinal);
        return string.Join("; ", new[] { (What: "changed", Files: changed), (What: "missing", Files: removed), (What: "new", Files: added) }
            .Where(c => c.Files.Any()).Select(c => $"{c.What}: {string.Join(", ", c.Files)}"));
    }
}
