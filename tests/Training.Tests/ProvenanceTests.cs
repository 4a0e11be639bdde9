using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Training.Models;
using LoraService.Training.Pipeline;
using LoraService.Training.Pipeline.Provenance;

namespace LoraService.Training.Tests;

/// <summary>summary.json says what produced it, and a resume refuses base weights other than those it started on.</summary>
public sealed class ProvenanceTests
{
    static FineTuneRunSpec Spec(TempDir dir, int steps)
    {
        var model = dir["llama"];
        if (!Directory.Exists(model)) ModelFactory.WriteCheckpoint(model, ModelFactory.TinyLlama(), seed: 1);
        var rows = Enumerable.Range(0, 8).Select(i => JsonSerializer.Serialize(new { prompt = $"Q{i % 4}:", completion = $" #### {2 * (i % 4)}" })).ToList();
        File.WriteAllLines(dir["train.jsonl"], rows);
        File.WriteAllLines(dir["valid.jsonl"], rows.Take(4));
        return TinyRunSpec.Lora(dir, model, steps, new EvaluationSettings { EveryNSteps = 0 });
    }

    static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [Fact]
    public void Summary_holds_the_resolved_job_the_engine_version_and_the_digests_of_the_weights_and_of_each_dataset()
    {
        using var dir = new TempDir();
        var spec = Spec(dir, steps: 2);

        Assert.Equal(RunOutcome.Completed, FineTuneRun.Execute(spec).Outcome);

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(spec.OutputDirectory, "summary.json")));
        var provenance = summary.RootElement.GetProperty("provenance");
        var version = typeof(FineTuneRun).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.Equal(version, provenance.GetProperty("engine_version").GetString());
        Assert.True(JsonNode.DeepEquals(JsonSerializer.SerializeToNode(spec.ResolvedJob(), JobSpecJson.Options),
            JsonNode.Parse(provenance.GetProperty("job").GetRawText())), provenance.GetProperty("job").GetRawText());

        var datasets = provenance.GetProperty("datasets");
        Assert.Equal(["train", "valid"], datasets.EnumerateObject().Select(d => d.Name));
        foreach (var (reference, file) in new[] { ("train", "train.jsonl"), ("valid", "valid.jsonl") })
        {
            Assert.Equal(file, datasets.GetProperty(reference).GetProperty("file").GetString());
            Assert.Equal(Sha256(File.ReadAllBytes(dir[file])), datasets.GetProperty(reference).GetProperty("sha256").GetString());
        }

        // One digest over the weight files: name, NUL, the file's SHA-256 hex, for each *.safetensors in ordinal order.
        var weightFiles = Directory.GetFiles(spec.ModelDirectory, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(weightFiles);
        var combined = weightFiles.SelectMany(f => Encoding.UTF8.GetBytes(f!).Append((byte)0)
            .Concat(Encoding.ASCII.GetBytes(Sha256(File.ReadAllBytes(Path.Combine(spec.ModelDirectory, f!)))))).ToArray();
        var baseModel = provenance.GetProperty("base_model");
        Assert.Equal("tiny-llama", baseModel.GetProperty("name").GetString());
        Assert.Equal(Sha256(combined), baseModel.GetProperty("weights_sha256").GetString());
        Assert.Equal(weightFiles.ToDictionary(f => f!, f => Sha256(File.ReadAllBytes(Path.Combine(spec.ModelDirectory, f!)))),
            baseModel.GetProperty("weight_files").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!));

        using var recorded = JsonDocument.Parse(File.ReadAllText(Path.Combine(spec.WorkDirectory, "provenance.json")));
        Assert.Equal(Sha256(combined), recorded.RootElement.GetProperty("weights_sha256").GetString());
    }

    [Fact]
    public void A_resume_on_changed_base_weights_is_refused_and_the_original_weights_resume()
    {
        using var dir = new TempDir();
        var spec = Spec(dir, steps: 4);
        using var cancel = new CancellationTokenSource();
        var first = FineTuneRun.Execute(spec, new FineTuneCallbacks(onStep: p => { if (p.Step == 2) cancel.Cancel(); }), cancel.Token);
        Assert.Equal(RunOutcome.Cancelled, first.Outcome);
        Assert.Equal(2, first.StepsCompleted);

        var weights = Path.Combine(spec.ModelDirectory, "model.safetensors");
        var original = File.ReadAllBytes(weights);
        var changed = original.ToArray();
        changed[^1] ^= 0x01; // the last byte of the last tensor: still a valid checkpoint, other weights
        File.WriteAllBytes(weights, changed);

        var refused = Assert.Throws<BaseModelChangedException>(() => FineTuneRun.Execute(spec));
        Assert.Contains("cannot resume from step 2", refused.Message, StringComparison.Ordinal);
        Assert.Contains("changed: model.safetensors", refused.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(spec.OutputDirectory) && Directory.EnumerateFileSystemEntries(spec.OutputDirectory).Any());

        File.WriteAllBytes(weights, original);
        var steps = new List<int>();
        var resumed = FineTuneRun.Execute(spec, new FineTuneCallbacks(onStep: p => steps.Add(p.Step)));
        Assert.Equal(RunOutcome.Completed, resumed.Outcome);
        Assert.Equal([3, 4], steps);
    }

    [Fact]
    public void The_weights_digest_of_a_sharded_checkpoint_follows_its_definition()
    {
        using var dir = new TempDir();
        var model = dir["sharded"];
        using (var original = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 3))
            Export.CheckpointExporter.Save(original, model, maxShardBytes: 40_000);
        var shards = Directory.GetFiles(model, "*.safetensors").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToList();
        Assert.True(shards.Count > 3, $"{shards.Count} shards");

        var digest = WeightsDigest.Compute(model);

        Assert.Equal(shards, digest.Files.Keys);
        foreach (var shard in shards)
            Assert.Equal(Sha256(File.ReadAllBytes(Path.Combine(model, shard))), digest.Files[shard]);
        var combined = shards.SelectMany(f => Encoding.UTF8.GetBytes(f).Append((byte)0).Concat(Encoding.ASCII.GetBytes(digest.Files[f]))).ToArray();
        Assert.Equal(Sha256(combined), digest.Sha256);

        // A shard that cannot be read fails the digest with its own exception, not one wrapped by the parallel loop.
        File.CreateSymbolicLink(Path.Combine(model, "dangling.safetensors"), Path.Combine(dir.Path, "gone.safetensors"));
        Assert.Throws<FileNotFoundException>(() => WeightsDigest.Compute(model));
    }

    [Fact]
    public void Hashing_the_weights_reports_progress_and_stops_on_a_cancel()
    {
        using var dir = new TempDir();
        var model = dir["llama"];
        ModelFactory.WriteCheckpoint(model, ModelFactory.TinyLlama(), seed: 1);

        var before = RunPulse.Beats;
        WeightsDigest.Compute(model);
        Assert.True(RunPulse.Beats > before);
        Assert.Throws<OperationCanceledException>(() => WeightsDigest.Compute(model, new CancellationToken(canceled: true)));
    }
}
