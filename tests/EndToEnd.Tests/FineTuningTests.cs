using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using LoraService.Training.Tests;
using LoraService.Tokenization;
using static TorchSharp.torch;

namespace LoraService.EndToEnd.Tests;

/// <summary>The product path a user takes: model, datasets, job, watch, summary, download. Real API, worker, PostgreSQL, TorchSharp.</summary>
public sealed class FineTuningTests(Service service) : IClassFixture<Service>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        if (service.WorkerOutput().Length == 0) await service.StartWorkerAsync("e2e-worker");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_lora_job_reports_learning_and_forgetting_and_its_adapter_reproduces_the_final_loss()
    {
        var model = await service.CreateModelAsync("tiny-llama", "llama");
        Assert.Equal("LlamaForCausalLM", model.GetProperty("architecture").GetString());
        var train = await service.UploadAsync("arith-train");
        var valid = await service.UploadAsync("arith-valid");
        var target = await service.UploadAsync("arith-em");
        var source = await service.UploadAsync("source-mc");

        var id = await service.CreateJobAsync(JobSpecs.Lora("tiny-llama", train, valid, target, source));
        var job = await service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), "the LoRA job to succeed");
        Assert.Equal(12, job.GetProperty("progress").GetProperty("step").GetInt32());

        var metrics = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/metrics");
        var series = metrics.GetProperty("series");
        Assert.Equal(Enumerable.Range(1, 12), series.GetProperty("train/loss").GetProperty("steps").EnumerateArray().Select(s => s.GetInt32()));
        var validationLoss = series.GetProperty($"eval/validation/{valid:N}/loss");
        Assert.Equal([0, 6, 12], validationLoss.GetProperty("steps").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal([0, 6, 12], series.GetProperty($"eval/source/{source:N}/acc_norm").GetProperty("steps").EnumerateArray().Select(s => s.GetInt32()));
        Assert.True(series.TryGetProperty($"eval/target/{target:N}/exact_match", out _));
        var losses = validationLoss.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.True(losses[^1] < losses[0], $"validation loss did not fall: {string.Join(", ", losses)}");

        // Samples came from the attempt through the worker: every evaluated step, the exact-match and multiple-choice sets'
        // first three rows (the loss-only validation set has none).
        var samples = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/samples");
        Assert.Equal([0, 6, 12], samples.GetProperty("steps").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal(12, samples.GetProperty("step").GetInt32());
        Assert.Equal([(target, "target"), (source, "source")],
            samples.GetProperty("sets").EnumerateArray().Select(s => (s.GetProperty("dataset_id").GetGuid(), s.GetProperty("role").GetString())));
        Assert.All(samples.GetProperty("sets").EnumerateArray(), set =>
        {
            Assert.Equal(3, set.GetProperty("samples").GetArrayLength());
            Assert.All(set.GetProperty("samples").EnumerateArray(), x => Assert.False(string.IsNullOrEmpty(x.GetProperty("prompt").GetString())));
        });

        var summaryResponse = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/summary");
        var spectral = summaryResponse.GetProperty("spectral").EnumerateArray().ToList();
        Assert.Equal(7, spectral.Count);
        var spectralByModule = spectral.ToDictionary(m => m.GetProperty("module").GetString()!);
        var summary = summaryResponse.GetProperty("summary");
        Assert.True(summary.GetProperty("forgetting").TryGetProperty("acc_norm", out _));
        Assert.True(summary.GetProperty("learning").TryGetProperty("exact_match", out _));
        Assert.Equal(12, summary.GetProperty("steps").GetInt32());

        // Provenance: the datasets' digests match those recorded at upload, and the weights digest follows its definition
        // (SHA-256 over each weight file's name, a NUL and its hex SHA-256, in name order).
        var provenance = summaryResponse.GetProperty("provenance");
        Assert.False(string.IsNullOrEmpty(provenance.GetProperty("engine_version").GetString()));
        Assert.Equal("tiny-llama", provenance.GetProperty("job").GetProperty("base_model").GetString());
        foreach (var dataset in new[] { train, valid, target, source })
        {
            var uploaded = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/datasets/{dataset}");
            Assert.Equal(uploaded.GetProperty("sha256").GetString(), provenance.GetProperty("datasets").GetProperty(dataset.ToString()).GetProperty("sha256").GetString());
        }
        var weights = Directory.GetFiles(Path.Combine(service.ModelsPath, "tiny-llama"), "*.safetensors").Order(StringComparer.Ordinal)
            .SelectMany(f => System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(f) + "\0" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))))
            .ToArray();
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(weights)),
            provenance.GetProperty("base_model").GetProperty("weights_sha256").GetString());

        var artifacts = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/artifacts");
        var byFile = artifacts.EnumerateArray().ToDictionary(a => a.GetProperty("kind").GetString() + "/" + a.GetProperty("file_name").GetString());
        foreach (var expected in new[] { "adapter/adapter_model.safetensors", "adapter_config/adapter_config.json", "adapter_archive/adapter.zip", "summary/summary.json", "spectral/spectral.json", "metrics/metrics.jsonl" })
            Assert.True(byFile.ContainsKey(expected), $"missing {expected}; have {string.Join(", ", byFile.Keys)}");

        var adapterDir = Directory.CreateDirectory(Path.Combine(service.DataPath, "downloaded-adapter")).FullName;
        foreach (var key in new[] { "adapter/adapter_model.safetensors", "adapter_config/adapter_config.json" })
        {
            var artifact = byFile[key];
            var bytes = await service.Client.GetByteArrayAsync(artifact.GetProperty("download_url").GetString());
            Assert.Equal(artifact.GetProperty("sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
            await File.WriteAllBytesAsync(Path.Combine(adapterDir, artifact.GetProperty("file_name").GetString()!), bytes);
        }

        // The downloaded adapter, merged into the base weights and scored by hand, gives the final validation loss.
        var modelDir = Path.Combine(service.ModelsPath, "tiny-llama");
        using (var merged = IndependentCheck.MergedModel(modelDir, adapterDir))
        using (var tokenizer = HfTokenizer.Load(modelDir))
            Assert.Equal(losses[^1], IndependentCheck.MeanTokenLoss(merged, IndependentCheck.PromptCompletionRows(service.Samples["arith-valid"], tokenizer, 8, 32)), 4);

        // Each module's mean rank90 and mean ‖ΔW‖ over the layers, recomputed from s·B·A of the downloaded adapter.
        using (NewDisposeScope())
        {
            var perModule = IndependentCheck.AdapterDeltas(adapterDir)
                .Select(d => (Module: Regex.Match(d.Key, @"layers\.\d+\.(.+)$").Groups[1].Value, Sigma: IndependentCheck.SingularValues(d.Value)))
                .GroupBy(d => d.Module).ToList();
            Assert.Equal(spectralByModule.Keys.Order(StringComparer.Ordinal), perModule.Select(g => g.Key).Order(StringComparer.Ordinal));
            foreach (var module in perModule)
            {
                var reported = spectralByModule[module.Key];
                Assert.Equal(module.Average(d => IndependentCheck.Rank90(d.Sigma)), reported.GetProperty("mean_rank90").GetDouble(), 1e-9);
                Assert.Equal(module.Average(d => Math.Sqrt(d.Sigma.Sum(s => s * s))), reported.GetProperty("mean_frobenius_norm").GetDouble(), 1e-6);
            }
        }
    }

    [Fact]
    public async Task A_dry_run_stores_nothing_and_predicts_the_steps_and_data_the_job_then_has_with_an_eta_once_a_speed_was_measured()
    {
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("plan-model");
        var spec = JobSpecs.Lora("plan-model", train, valid, target, source, steps: 6, checkpointEvery: 0);
        var jobsBefore = (await service.Client.GetFromJsonAsync<JsonElement>("/api/v1/jobs?limit=100")).GetProperty("data").GetArrayLength();

        var first = await DryRunAsync(spec);
        Assert.Equal(jobsBefore, (await service.Client.GetFromJsonAsync<JsonElement>("/api/v1/jobs?limit=100")).GetProperty("data").GetArrayLength());
        Assert.Equal(6, first.GetProperty("optimizer_steps").GetInt32());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("eta_seconds").ValueKind);
        Assert.Contains("no lora job of plan-model has succeeded", first.GetProperty("eta_basis").GetString());
        Assert.Equal(8.0, first.GetProperty("spec").GetProperty("lora").GetProperty("alpha").GetDouble()); // resolved: 2 × rank 4
        var datasets = first.GetProperty("datasets").EnumerateArray().ToDictionary(d => d.GetProperty("field").GetString()!);
        Assert.Equal(["evaluation.source[0]", "evaluation.target[0]", "training_dataset", "validation_dataset"], datasets.Keys.Order());
        var training = datasets["training_dataset"];
        Assert.Equal(8, datasets["validation_dataset"].GetProperty("rows").GetInt32()); // cut to evaluation.max_examples
        Assert.Equal(JsonValueKind.Null, datasets["evaluation.source[0]"].GetProperty("tokens").ValueKind);

        var id = await service.CreateJobAsync(spec);
        var job = await service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), "the planned job");
        Assert.Equal(first.GetProperty("optimizer_steps").GetInt32(), job.GetProperty("progress").GetProperty("total_steps").GetInt32());
        // The engine reports its own count of the training set; the plan must have said the same.
        var events = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/events");
        var reported = events.EnumerateArray().Select(e => e.GetProperty("message").GetString()!).Single(m => m.StartsWith("Training set:", StringComparison.Ordinal));
        Assert.Equal($"Training set: {training.GetProperty("rows").GetInt32()} rows → {training.GetProperty("examples").GetInt32()} examples, {training.GetProperty("tokens").GetInt64():N0} tokens", reported);

        var second = await DryRunAsync(spec);
        var speed = await MeanTokensPerSecondAsync(id);
        Assert.Equal(second.GetProperty("optimizer_steps").GetInt32() * second.GetProperty("tokens_per_step").GetDouble() / speed,
            second.GetProperty("eta_seconds").GetDouble(), 0.2);
    }

    private async Task<JsonElement> DryRunAsync(object spec)
    {
        var response = await service.Client.PostAsJsonAsync("/api/v1/jobs?dry_run=true", spec);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement;
    }

    private async Task<double> MeanTokensPerSecondAsync(Guid id)
    {
        var metrics = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/metrics?names=train/tokens_per_s");
        return metrics.GetProperty("series").GetProperty("train/tokens_per_s").GetProperty("values").EnumerateArray().Average(v => v.GetDouble());
    }

    [Fact]
    public async Task Downloads_support_range_etag_and_content_disposition()
    {
        var model = await service.CreateModelAsync("tiny-gpt2", "gpt2");
        Assert.Equal(["c_attn", "c_proj", "c_fc"], model.GetProperty("lora_targets").EnumerateArray().Select(t => t.GetString()));
        var train = await service.UploadAsync("source-text");
        var source = await service.UploadAsync("source-mc");
        var id = await service.CreateJobAsync(JobSpecs.Full("tiny-gpt2", train, source));
        await service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), "the full fine-tuning job to succeed");

        var artifacts = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/artifacts");
        var weights = artifacts.EnumerateArray().Single(a => a.GetProperty("kind").GetString() == "model" && a.GetProperty("file_name").GetString() == "model.safetensors");
        var url = weights.GetProperty("download_url").GetString();
        var sha = weights.GetProperty("sha256").GetString();

        var partial = new HttpRequestMessage(HttpMethod.Get, url);
        partial.Headers.Range = new RangeHeaderValue(0, 7);
        var head = await service.Client.SendAsync(partial);
        Assert.Equal(HttpStatusCode.PartialContent, head.StatusCode);
        Assert.Equal(8, (await head.Content.ReadAsByteArrayAsync()).Length);
        Assert.Equal($"\"{sha}\"", head.Headers.ETag?.Tag);
        Assert.Equal("model.safetensors", head.Content.Headers.ContentDisposition?.FileNameStar ?? head.Content.Headers.ContentDisposition?.FileName);

        var conditional = new HttpRequestMessage(HttpMethod.Get, url);
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{sha}\""));
        Assert.Equal(HttpStatusCode.NotModified, (await service.Client.SendAsync(conditional)).StatusCode);

        Assert.Contains(artifacts.EnumerateArray(), a => a.GetProperty("kind").GetString() == "model_archive");
        var spectral = await service.Client.GetStringAsync(artifacts.EnumerateArray().Single(a => a.GetProperty("kind").GetString() == "spectral").GetProperty("download_url").GetString());
        Assert.Contains("rank90", spectral);
    }
}
