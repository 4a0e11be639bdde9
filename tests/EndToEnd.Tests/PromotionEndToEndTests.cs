using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace LoraService.EndToEnd.Tests;

/// <summary>A job's result becomes a base model that a real worker trains on. Real API, worker, PostgreSQL, TorchSharp.</summary>
public sealed class PromotionEndToEndTests(Service service) : IClassFixture<Service>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        if (service.WorkerOutput().Length == 0) await service.StartWorkerAsync("promotion-worker");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<JsonElement> SucceededAsync(Guid id, string what) =>
        service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), what);

    [Fact]
    public async Task A_promoted_full_fine_tune_is_the_base_of_a_lora_job_and_an_unmerged_lora_is_merged_by_the_worker()
    {
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("pretrained");
        var sourceText = await service.UploadAsync("source-text");
        var full = await service.CreateJobAsync(JobSpecs.Full("pretrained", train, sourceText));
        await SucceededAsync(full, "the full fine-tuning job");

        var promoted = await service.Client.PostAsJsonAsync($"/api/v1/jobs/{full}/promote", new { name = "pretrained-v2" });
        Assert.Equal(HttpStatusCode.Created, promoted.StatusCode);
        var model = await service.Client.GetFromJsonAsync<JsonElement>("/api/v1/models/pretrained-v2");
        Assert.Equal("pretrained", model.GetProperty("lineage").GetProperty("parent_model").GetString());
        Assert.Equal(full, model.GetProperty("lineage").GetProperty("job_id").GetGuid());

        // A LoRA job on the promoted model, without a merged export, promoted in turn: a worker merges it (202, then 200).
        var lora = await service.CreateJobAsync(new
        {
            base_model = "pretrained-v2", method = "lora", training_dataset = train, validation_dataset = valid, export_merged = false,
            lora = new { rank = 4 },
            hyperparameters = new { learning_rate = 5e-3, max_steps = 6, batch_size = 8, micro_batch_size = 8, max_sequence_length = 32, seed = 7 },
            evaluation = new { target = new[] { target }, source = new[] { source, sourceText }, every_n_steps = 0, max_examples = 8, max_new_tokens = 8 },
        });
        var job = await SucceededAsync(lora, "the LoRA job on the promoted model");
        Assert.Equal(6, job.GetProperty("progress").GetProperty("step").GetInt32());
        // The worker trained the promoted weights: the LoRA job's step-0 source loss is the full job's final one.
        var name = $"eval/source/{sourceText:N}/loss";
        double[] Values(JsonElement metrics) => metrics.GetProperty("series").GetProperty(name).GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var fullLoss = Values(await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{full}/metrics"));
        var loraLoss = Values(await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{lora}/metrics"));
        Assert.True(Math.Abs(fullLoss[^1] - loraLoss[0]) < 1e-4, $"full final {fullLoss[^1]}, LoRA step 0 {loraLoss[0]}");
        Assert.True(Math.Abs(fullLoss[0] - loraLoss[0]) > 1e-3, "the promoted model should differ from the random one");

        var accepted = await service.Client.PostAsJsonAsync($"/api/v1/jobs/{lora}/promote", new { name = "pretrained-v3" });
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var merged = await service.PollAsync(async () =>
        {
            var response = await service.Client.GetAsync("/api/v1/models/pretrained-v3");
            return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonElement>() : (JsonElement?)null;
        }, TimeSpan.FromSeconds(60), "the merged model");
        Assert.Equal("pretrained-v2", merged.GetProperty("lineage").GetProperty("parent_model").GetString());
        Assert.True(File.Exists(Path.Combine(service.ModelsPath, "pretrained-v3", "model.safetensors")));
        var events = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{lora}/events");
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("type").GetString() == "promoted");
    }
}
