using System.ClientModel;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.TestSupport;
using OpenAI.Files;
using OpenAI.FineTuning;

namespace LoraService.EndToEnd.Tests;

/// <summary>The official OpenAI .NET SDK drives a job to success on the real API and worker processes.</summary>
public sealed class OpenAiSdkEndToEndTests(Service service) : IClassFixture<Service>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        if (service.WorkerOutput().Length == 0) await service.StartWorkerAsync("openai-worker");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_job_created_with_the_sdk_trains_to_success_with_checkpoints_events_and_a_result_file()
    {
        await service.CreateModelAsync("tiny-llama", "llama");
        var sdk = OpenAiSdk.Client(new Uri(service.Api.Url), TestKeys.Admin);
        var files = sdk.GetOpenAIFileClient();
        async Task<string> Upload(string sample) =>
            (await files.UploadFileAsync(File.OpenRead(service.Samples[sample]), sample + ".jsonl", FileUploadPurpose.FineTune)).Value.Id;
        var (train, valid, target, source) = (await Upload("arith-train"), await Upload("arith-valid"), await Upload("arith-em"), await Upload("source-mc"));

        // Webhooks: a receiver subscribed to every event hears this job run, evaluate and succeed.
        await using var receiver = await WebhookReceiver.StartAsync();
        var hook = await service.Client.PostAsJsonAsync("/api/v1/webhooks", new
        {
            url = receiver.Url,
            events = new[] { "job.running", "job.evaluated", "job.forgetting_budget_exceeded", "fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled" },
        });
        var secret = (await hook.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;

        var client = sdk.GetFineTuningClient();
        var job = await client.FineTuneAsync(BinaryContent.Create(BinaryData.FromObjectAsJson(new
        {
            model = "tiny-llama",
            training_file = train,
            validation_file = valid,
            suffix = "arith",
            seed = 7,
            // 25 × LoRA's default 2e-4 = 5e-3, the rate the native end-to-end job uses.
            method = new { type = "supervised", supervised = new { hyperparameters = new { batch_size = 8, learning_rate_multiplier = 25, n_epochs = "auto" } } },
            lora_service = new
            {
                lora = new { rank = 4 },
                hyperparameters = new { max_steps = 12, micro_batch_size = 4, max_sequence_length = 32 },
                evaluation = new { target = new[] { target }, source = new[] { source }, every_n_steps = 6, max_examples = 8, max_new_tokens = 12 },
                checkpoint_every = 6,
                keep_checkpoints = 0, // keep every checkpoint after success (by default a succeeded job's are deleted)
            },
        })), waitUntilCompleted: false, options: null);

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        while (!job.HasCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            await job.UpdateStatusAsync();
        }
        Assert.True(job.Status == FineTuningStatus.Succeeded, $"job ended {job.Status}: {job.GetRawResponse().Content}\n{service.WorkerOutput()}");
        Assert.Matches($"^ft:tiny-llama:[^:]+:arith:{job.JobId["ftjob-".Length..]}$", job.Value);
        var raw = JsonDocument.Parse(job.GetRawResponse().Content.ToString()).RootElement;
        Assert.True(raw.GetProperty("trained_tokens").GetInt32() > 0);
        var extension = raw.GetProperty("lora_service");
        Assert.Equal(12, extension.GetProperty("progress").GetProperty("step").GetInt32());
        Assert.True(extension.GetProperty("learning").TryGetProperty("exact_match", out _));
        Assert.True(extension.GetProperty("forgetting").TryGetProperty("acc_norm", out _));

        var checkpoints = new List<FineTuningCheckpoint>();
        await foreach (var c in job.GetCheckpointsAsync()) checkpoints.Add(c);
        Assert.NotEmpty(checkpoints);
        Assert.Equal(checkpoints.Select(c => c.StepNumber).OrderDescending(), checkpoints.Select(c => c.StepNumber));
        Assert.All(checkpoints, c => Assert.NotNull(c.Metrics.TrainLoss));

        var events = new List<FineTuningEvent>();
        await foreach (var e in job.GetEventsAsync(new GetEventsOptions { PageSize = 5 })) events.Add(e);
        Assert.Contains(events, e => e.Message.StartsWith("Job succeeded", StringComparison.Ordinal));

        var csv = (await files.DownloadFileAsync(Assert.Single(job.ResultFileIds))).Value.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("step,train_loss,valid_loss,valid_mean_token_accuracy,", csv[0]);
        Assert.Equal(13, csv.Length - 1);

        var succeeded = (await receiver.WaitForAsync(r => r.Body.Contains("\"fine_tuning.job.succeeded\""), seconds: 30)).Single();
        Assert.True(WebhookSignatureCheck.IsValid(secret, succeeded));
        var data = JsonDocument.Parse(succeeded.Body).RootElement.GetProperty("data");
        Assert.Equal(job.JobId, data.GetProperty("id").GetString());
        Assert.Equal("succeeded", data.GetProperty("status").GetString());
        Assert.Equal(job.Value, data.GetProperty("fine_tuned_model").GetString());
        Assert.Contains(receiver.Received, r => r.Body.Contains("\"job.running\"") && r.Body.Contains(job.JobId));
        // Evaluations at steps 6 and 12 (step 0, the base model, raises none), with learning and forgetting at that step.
        var evaluated = receiver.Received.Where(r => r.Body.Contains("\"job.evaluated\""))
            .Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("details")).ToList();
        Assert.Equal([6, 12], evaluated.Select(d => d.GetProperty("step").GetInt32()).Order());
        Assert.All(evaluated, d => Assert.True(d.GetProperty("forgetting").TryGetProperty("acc_norm", out _)));
        Assert.Equal(extension.GetProperty("forgetting").GetProperty("acc_norm").GetDouble(),
            evaluated.Single(d => d.GetProperty("step").GetInt32() == 12).GetProperty("forgetting").GetProperty("acc_norm").GetDouble(), 9);

        // Once the job finished, its files can go.
        Assert.True((await files.DeleteFileAsync(train)).Value.Deleted);
    }
}
