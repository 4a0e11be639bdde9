using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;
using OpenAI;
using OpenAI.Files;
using OpenAI.FineTuning;

namespace LoraService.Api.Tests;

/// <summary>The official OpenAI .NET SDK against the real API host under /v1 (no worker: jobs stay queued unless a test moves them).</summary>
public sealed class OpenAiSdkTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private OpenAIClient Sdk(string? key = null) => OpenAiSdk.Client(factory.Server.BaseAddress, key ?? TestKeys.Admin, factory.CreateClient());
    private HttpClient Native => factory.CreateClient(TestKeys.Admin);

    private static readonly string Chat = string.Join("\n", Enumerable.Range(1, 10).Select(i =>
        JsonSerializer.Serialize(new { messages = new object[] { new { role = "user", content = $"{i}+{i}?" }, new { role = "assistant", content = $"{2 * i}" } } }))) + "\n";

    private async Task<OpenAIFile> UploadAsync(string content = "", string name = "train.jsonl") =>
        (await Sdk().GetOpenAIFileClient().UploadFileAsync(BinaryData.FromString(content.Length > 0 ? content : Chat), name, FileUploadPurpose.FineTune)).Value;

    private async Task<(string Model, OpenAIFile File)> ModelAndFileAsync() => ((await Seed.ModelAsync(factory.Database)).Name, await UploadAsync());

    private static JsonElement Error(ClientResultException e) => JsonDocument.Parse(e.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");

    [Fact]
    public async Task A_file_is_uploaded_listed_read_downloaded_and_deleted_and_is_the_native_dataset()
    {
        var files = Sdk().GetOpenAIFileClient();
        var file = await UploadAsync();
        Assert.StartsWith("file-", file.Id);
        Assert.Equal(FilePurpose.FineTune, file.Purpose);
        Assert.Equal(Encoding.UTF8.GetByteCount(Chat), file.SizeInBytes);
        Assert.Equal("train.jsonl", file.Filename);

        var datasetId = Guid.ParseExact(file.Id["file-".Length..], "N");
        var native = await Native.GetFromJsonAsync<JsonElement>($"/api/v1/datasets/{datasetId}");
        Assert.Equal("messages", native.GetProperty("format").GetString());
        Assert.Equal(10, native.GetProperty("rows").GetInt32());

        Assert.Equal(file.Id, (await files.GetFileAsync(file.Id)).Value.Id);
        Assert.Contains((await files.GetFilesAsync()).Value, f => f.Id == file.Id);
        Assert.Equal(Chat, (await files.DownloadFileAsync(file.Id)).Value.ToString());

        var deleted = (await files.DeleteFileAsync(file.Id)).Value;
        Assert.True(deleted.Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => files.GetFileAsync(file.Id));
        Assert.Equal(404, gone.Status);
        Assert.Equal("not_found", Error(gone).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_prompt_completion_file_is_accepted_and_an_invalid_file_is_a_400_naming_its_lines()
    {
        var pc = await UploadAsync("{\"prompt\": \"1+1=\", \"completion\": \"2\"}\n");
        Assert.StartsWith("file-", pc.Id);

        var bad = await Assert.ThrowsAsync<ClientResultException>(() => UploadAsync("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{\"messages\": 3}\n"));
        Assert.Equal(400, bad.Status);
        var error = Error(bad);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("file", error.GetProperty("param").GetString());
        Assert.Contains("line 2", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_job_created_with_the_sdk_maps_onto_the_native_spec()
    {
        var (model, file) = await ModelAndFileAsync();
        var job = await Sdk().GetFineTuningClient().FineTuneAsync(model, file.Id, waitUntilCompleted: false, new FineTuningOptions
        {
            TrainingMethod = FineTuningTrainingMethod.CreateSupervised(
                HyperparameterBatchSize.CreateSize(4), HyperparameterEpochCount.CreateEpochCount(2), HyperparameterLearningRate.CreateMultiplier(0.5)),
            Suffix = "my-suffix",
            Seed = 7,
        });
        Assert.StartsWith("ftjob-", job.JobId);
        Assert.Equal(FineTuningStatus.Queued, job.Status);
        Assert.Equal(model, job.BaseModel);
        Assert.Equal(file.Id, job.TrainingFileId);
        Assert.Equal("my-suffix", job.UserProvidedSuffix);
        Assert.Equal(7, job.Seed);

        // The same row, as the native API shows it.
        var spec = (await Native.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{Guid.ParseExact(job.JobId["ftjob-".Length..], "N")}")).GetProperty("spec");
        var hp = spec.GetProperty("hyperparameters");
        Assert.Equal(1e-4, hp.GetProperty("learning_rate").GetDouble(), 12);
        Assert.Equal(2, hp.GetProperty("epochs").GetInt32());
        Assert.Equal(4, hp.GetProperty("batch_size").GetInt32());
        Assert.Equal(4, hp.GetProperty("micro_batch_size").GetInt32());
        Assert.Equal(7, hp.GetProperty("seed").GetInt32());
        Assert.Equal("my-suffix", spec.GetProperty("name").GetString());
        Assert.Equal(16, spec.GetProperty("lora").GetProperty("rank").GetInt32());
    }

    [Fact]
    public async Task The_lora_service_extension_and_auto_hyperparameters_ride_along_in_a_protocol_call()
    {
        var (model, file) = await ModelAndFileAsync();
        var target = await Seed.DatasetAsync(factory.Database, await Seed.AdminTenantAsync(factory.Database), "exact_match");
        var body = BinaryContent.Create(BinaryData.FromObjectAsJson(new
        {
            model,
            training_file = file.Id,
            hyperparameters = new { n_epochs = "auto", batch_size = "auto", learning_rate_multiplier = "auto" },
            lora_service = new { lora = new { rank = 4 }, evaluation = new { target = new[] { $"file-{target.Id:N}" }, every_n_steps = 5 }, hyperparameters = new { max_steps = 10 } },
        }));
        var job = await Sdk().GetFineTuningClient().FineTuneAsync(body, waitUntilCompleted: false, options: null);
        var raw = JsonDocument.Parse(job.GetRawResponse().Content.ToString()).RootElement;
        Assert.Equal("fine_tuning.job", raw.GetProperty("object").GetString());
        var hyperparameters = raw.GetProperty("method").GetProperty("supervised").GetProperty("hyperparameters");
        Assert.Equal(1, hyperparameters.GetProperty("n_epochs").GetInt32());
        Assert.Equal(8, hyperparameters.GetProperty("batch_size").GetInt32());
        Assert.Equal(1.0, hyperparameters.GetProperty("learning_rate_multiplier").GetDouble());
        var spec = raw.GetProperty("lora_service").GetProperty("spec");
        Assert.Equal(4, spec.GetProperty("lora").GetProperty("rank").GetInt32());
        Assert.Equal(8.0, spec.GetProperty("lora").GetProperty("alpha").GetDouble());
        Assert.Equal(10, spec.GetProperty("hyperparameters").GetProperty("max_steps").GetInt32());
        Assert.Equal(target.Id.ToString(), spec.GetProperty("evaluation").GetProperty("target")[0].GetString());
    }

    [Fact]
    public async Task Jobs_are_listed_newest_first_across_pages()
    {
        var (model, file) = await ModelAndFileAsync();
        var client = Sdk().GetFineTuningClient();
        var created = new List<string>();
        for (var i = 0; i < 3; i++) created.Add((await client.FineTuneAsync(model, file.Id, false, new FineTuningOptions())).JobId);

        var first = await Native.GetFromJsonAsync<JsonElement>("/v1/fine_tuning/jobs?limit=2");
        Assert.Equal("list", first.GetProperty("object").GetString());
        Assert.True(first.GetProperty("has_more").GetBoolean());
        Assert.Equal([created[2], created[1]], first.GetProperty("data").EnumerateArray().Select(j => j.GetProperty("id").GetString()));

        // The SDK's own paging follows has_more with after = the last id.
        var all = new List<string>();
        await foreach (var job in client.GetJobsAsync(new FineTuningJobCollectionOptions { PageSize = 2 })) all.Add(job.JobId);
        Assert.Equal(created.AsEnumerable().Reverse(), all.Where(created.Contains));
    }

    [Fact]
    public async Task Events_and_checkpoints_are_listed_newest_first_with_step_numbers_and_metrics()
    {
        var (model, file) = await ModelAndFileAsync();
        var job = await Sdk().GetFineTuningClient().FineTuneAsync(model, file.Id, false, new FineTuningOptions());
        var id = Guid.ParseExact(job.JobId["ftjob-".Length..], "N");
        await using (var db = factory.Database.CreateContext())
        {
            db.JobEvents.Add(JobEvent.Create(id, "second"));
            db.JobEvents.Add(JobEvent.Create(id, "third", level: "warning"));
            foreach (var step in new[] { 5, 10 })
                db.Checkpoints.Add(new JobCheckpoint
                {
                    JobId = id, Step = step, StorageKey = $"jobs/{id:N}/ckpt-{step}", Bytes = 1,
                    Metrics = JsonSerializer.Serialize(new Dictionary<string, double> { ["train/loss"] = 2.0 / step, [$"eval/validation/{Guid.NewGuid():N}/loss"] = 3.0 / step }),
                });
            await db.SaveChangesAsync();
        }

        var events = new List<FineTuningEvent>();
        await foreach (var e in job.GetEventsAsync(new GetEventsOptions { PageSize = 1 })) events.Add(e);
        Assert.Equal(["third", "second"], events.Take(2).Select(e => e.Message));
        Assert.Equal("Job created", events[^1].Message);
        Assert.Equal("warn", events[0].Level);
        Assert.StartsWith("ftevent-", events[0].Id);

        var checkpoints = new List<FineTuningCheckpoint>();
        await foreach (var c in job.GetCheckpointsAsync(new GetCheckpointsOptions { PageSize = 1 })) checkpoints.Add(c);
        Assert.Equal([10, 5], checkpoints.Select(c => c.StepNumber));
        Assert.Equal(0.2f, checkpoints[0].Metrics.TrainLoss!.Value, 5);
        Assert.Equal(0.3f, checkpoints[0].Metrics.ValidLoss!.Value, 5);
        Assert.Equal(job.JobId, checkpoints[0].JobId);
        Assert.EndsWith(":ckpt-step-10", checkpoints[0].ModelId);
    }

    [Fact]
    public async Task Cancel_ends_a_queued_job_and_a_finished_job_is_a_409_while_its_result_file_downloads()
    {
        var (model, file) = await ModelAndFileAsync();
        var client = Sdk().GetFineTuningClient();
        var job = await client.FineTuneAsync(model, file.Id, false, new FineTuningOptions { Suffix = "done" });
        await job.CancelAndUpdateAsync();
        Assert.Equal(FineTuningStatus.Cancelled, job.Status);
        Assert.True(job.HasCompleted);
        var id = Guid.ParseExact(job.JobId["ftjob-".Length..], "N");
        Assert.Equal("cancelled", (await Native.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}")).GetProperty("status").GetString());

        var finished = await client.FineTuneAsync(model, file.Id, false, new FineTuningOptions { Suffix = "done" });
        var finishedId = Guid.ParseExact(finished.JobId["ftjob-".Length..], "N");
        await using (var db = factory.Database.CreateContext())
        {
            var row = await db.Jobs.SingleAsync(j => j.Id == finishedId);
            row.Claim("test-worker", TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow);
            row.Progress = new JobProgress { Step = 2, TotalSteps = 2, TokensSeen = 1234 };
            row.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
            db.MetricPoints.AddRange(
                new MetricPoint { JobId = finishedId, Name = "train/loss", Step = 1, Value = 2.5 },
                new MetricPoint { JobId = finishedId, Name = "train/loss", Step = 2, Value = 1.5 });
            await db.SaveChangesAsync();
        }
        var conflict = await Assert.ThrowsAsync<ClientResultException>(() => finished.CancelAndUpdateAsync());
        Assert.Equal(409, conflict.Status);

        await finished.UpdateStatusAsync();
        Assert.Equal(FineTuningStatus.Succeeded, finished.Status);
        Assert.Matches($"^ft:{model}:[^:]+:done:{finishedId:N}$", finished.Value);
        var raw = JsonDocument.Parse(finished.GetRawResponse().Content.ToString()).RootElement;
        Assert.Equal(1234, raw.GetProperty("trained_tokens").GetInt32());
        var csv = (await Sdk().GetOpenAIFileClient().DownloadFileAsync(Assert.Single(finished.ResultFileIds))).Value.ToString().Split('\n');
        Assert.StartsWith("step,train_loss,", csv[0]);
        Assert.StartsWith("2,1.5,", csv[2]);
    }

    [Fact]
    public async Task Errors_come_in_openai_shape_under_v1_with_the_parameter_named()
    {
        var (model, file) = await ModelAndFileAsync();
        var client = Sdk().GetFineTuningClient();

        var badModel = await Assert.ThrowsAsync<ClientResultException>(() => client.FineTuneAsync("no-such-model", file.Id, false, new FineTuningOptions()));
        Assert.Equal(400, badModel.Status);
        Assert.Equal("model", Error(badModel).GetProperty("param").GetString());

        var badMultiplier = await Assert.ThrowsAsync<ClientResultException>(() => client.FineTuneAsync(
            BinaryContent.Create(BinaryData.FromObjectAsJson(new { model, training_file = file.Id, method = new { type = "supervised", supervised = new { hyperparameters = new { learning_rate_multiplier = -1 } } } })), false, null));
        Assert.Equal("method.supervised.hyperparameters.learning_rate_multiplier", Error(badMultiplier).GetProperty("param").GetString());

        var badRank = await Assert.ThrowsAsync<ClientResultException>(() => client.FineTuneAsync(
            BinaryContent.Create(BinaryData.FromObjectAsJson(new { model, training_file = file.Id, lora_service = new { lora = new { rank = 0 } } })), false, null));
        Assert.Equal("lora_service.lora.rank", Error(badRank).GetProperty("param").GetString());

        var unknownField = await Assert.ThrowsAsync<ClientResultException>(() => client.FineTuneAsync(
            BinaryContent.Create(BinaryData.FromObjectAsJson(new { model, training_file = file.Id, n_epocs = 3 })), false, null));
        Assert.Equal(400, unknownField.Status);
        Assert.Equal("n_epocs", Error(unknownField).GetProperty("param").GetString());

        var missing = await Assert.ThrowsAsync<ClientResultException>(() => client.GetJobAsync("ftjob-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(404, missing.Status);
        Assert.Equal("invalid_request_error", Error(missing).GetProperty("type").GetString());

        var unauthorized = await Assert.ThrowsAsync<ClientResultException>(() => Sdk("lsk_wrong_key").GetFineTuningClient().GetJobAsync("ftjob-x"));
        Assert.Equal(401, unauthorized.Status);
        Assert.Equal("invalid_api_key", Error(unauthorized).GetProperty("code").GetString());

        // Another tenant's job does not exist for this key.
        var (_, otherKey) = await Seed.OtherTenantAsync(factory);
        var job = await client.FineTuneAsync(model, file.Id, false, new FineTuningOptions());
        Assert.Equal(404, (await Assert.ThrowsAsync<ClientResultException>(() => Sdk(otherKey).GetFineTuningClient().GetJobAsync(job.JobId))).Status);

        // The native API keeps RFC 9457 problem details.
        var anonymous = await factory.CreateClient().GetAsync("/api/v1/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        var openAi = await factory.CreateClient().GetAsync("/v1/fine_tuning/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, openAi.StatusCode);
        Assert.Equal("invalid_api_key", (await openAi.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Swagger_documents_the_openai_surface()
    {
        var document = await factory.CreateClient().GetStringAsync("/swagger/v1/swagger.json");
        foreach (var path in new[] { "/v1/files", "/v1/files/{id}/content", "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/{id}/cancel", "/v1/fine_tuning/jobs/{id}/events", "/v1/fine_tuning/jobs/{id}/checkpoints" })
            Assert.Contains($"\"{path}\"", document);
        Assert.Contains("lora_service", document);
    }

    [Theory]
    [InlineData("{\"model\": ", "")]
    [InlineData("null", "")]
    [InlineData("{\"model\": \"m\", \"training_file\": \"file-x\", \"method\": {\"type\": \"dpo\"}}", "method.type")]
    [InlineData("{\"model\": \"m\", \"training_file\": \"file-x\", \"hyperparameters\": {\"n_epochs\": \"many\"}}", "hyperparameters.n_epochs")]
    [InlineData("{\"model\": \"m\", \"training_file\": \"file-x\", \"metadata\": 5}", "metadata")]
    [InlineData("{\"model\": \"m\", \"training_file\": \"file-x\", \"lora_service\": {\"method\": \"qlora\"}}", "lora_service.method")]
    [InlineData("{\"model\": \"m\", \"training_file\": \"file-x\", \"integrations\": [{\"type\": \"wandb\"}]}", "integrations")]
    [InlineData("{\"training_file\": \"file-x\"}", "model")]
    public async Task A_malformed_create_is_a_400_in_openai_shape(string body, string param)
    {
        var response = await Native.PostAsync("/v1/fine_tuning/jobs", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        if (param.Length > 0) Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("/v1/fine_tuning/jobs?limit=abc")]
    [InlineData("/v1/fine_tuning/jobs?limit=0")]
    [InlineData("/v1/fine_tuning/jobs?after=nope")]
    [InlineData("/v1/files?after=file-zz")]
    [InlineData("/v1/fine_tuning/jobs/ftjob-x/events?after=ftevent-q")]
    public async Task A_bad_query_is_a_400_in_openai_shape(string url)
    {
        var response = await Native.GetAsync(url);
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{url}: {(int)response.StatusCode}");
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("error", out _));
    }

    [Fact]
    public async Task An_upload_without_purpose_fine_tune_is_a_400_and_stores_nothing()
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent("assistants"), "purpose");
        form.Add(new StringContent(Chat), "file", "x.jsonl");
        var response = await Native.PostAsync("/v1/files", form);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("purpose", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
    }
}
