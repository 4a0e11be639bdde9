using LoraService.Contracts.Jobs;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

public sealed class JobsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private HttpClient Admin => factory.CreateClient(TestKeys.Admin);

    private async Task<object> ValidRequestAsync(string? modelName = null)
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var model = await Seed.ModelAsync(factory.Database, modelName);
        var train = await Seed.DatasetAsync(factory.Database, tenant, "messages");
        var target = await Seed.DatasetAsync(factory.Database, tenant, "exact_match");
        var source = await Seed.DatasetAsync(factory.Database, tenant, "multiple_choice");
        return new
        {
            base_model = model.Name,
            method = "lora",
            training_dataset = train.Id,
            lora = new { rank = 8 },
            hyperparameters = new { max_steps = 10, max_sequence_length = 64 },
            evaluation = new { target = new[] { target.Id }, source = new[] { source.Id }, every_n_steps = 5 },
            name = "first job",
        };
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();

    private async Task<int> QueuePositionAsync(Guid id) =>
        (await Json(await Admin.GetAsync($"/api/v1/jobs/{id}"))).GetProperty("progress").GetProperty("queue_position").GetInt32();

    [Fact]
    public async Task A_valid_job_is_stored_with_resolved_defaults_and_queued_on_hangfire()
    {
        var request = await ValidRequestAsync();
        int queuedBefore;
        await using (var before = factory.Database.CreateContext())
            queuedBefore = await before.Jobs.CountAsync(j => j.Status == JobStatus.Queued);
        var response = await Admin.PostAsJsonAsync("/api/v1/jobs", request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var job = await Json(response);
        Assert.Equal("queued", job.GetProperty("status").GetString());
        var lora = job.GetProperty("spec").GetProperty("lora");
        Assert.Equal(16.0, lora.GetProperty("alpha").GetDouble());
        Assert.Equal(7, lora.GetProperty("target_modules").GetArrayLength());
        Assert.Equal("cosine", job.GetProperty("spec").GetProperty("hyperparameters").GetProperty("schedule").GetString());

        // No worker runs here: every job queued before this one is ahead of it, and the next one queues behind it.
        var id = job.GetProperty("id").GetGuid();
        Assert.Equal(queuedBefore, await QueuePositionAsync(id));
        var next = (await Json(await Admin.PostAsJsonAsync("/api/v1/jobs", request))).GetProperty("id").GetGuid();
        Assert.Equal(queuedBefore + 1, await QueuePositionAsync(next));
        Assert.Equal(queuedBefore, await QueuePositionAsync(id));
        await using var db = factory.Database.CreateContext();
        var row = await db.Jobs.SingleAsync(j => j.Id == id);
        Assert.NotNull(row.QueueJobId);
        await using var connection = new Npgsql.NpgsqlConnection(factory.Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new Npgsql.NpgsqlCommand("SELECT queue FROM hangfire.jobqueue WHERE jobid = @id", connection);
        query.Parameters.AddWithValue("id", long.Parse(row.QueueJobId!));
        Assert.Equal("cpu", await query.ExecuteScalarAsync());
    }

    public static TheoryData<string, string, string> InvalidSpecs => new()
    {
        { "base_model", "\"no-such-model\"", "No base model named 'no-such-model'" },
        { "lora", "{\"rank\": 0}", "rank must be at least 1" },
        { "lora", "{\"rank\": 65}", "larger than the model's hidden size" },
        { "lora", "{\"target_modules\": [\"q_proj\", \"c_attn\"]}", "'c_attn' is not a module" },
        { "hyperparameters", "{\"max_sequence_length\": 4096}", "exceeds the model's 128 positions" },
        { "hyperparameters", "{\"batch_size\": 8, \"micro_batch_size\": 3}", "must be a multiple of micro_batch_size" },
        { "hyperparameters", "{\"chat_template\": \"vicuna\"}", "unknown chat template 'vicuna'" },
        { "keep_checkpoints", "-1", "keep_checkpoints must be between 0 (all) and 1000" },
        { "max_wall_time", "\"00:00:01\"", "max_wall_time must be between 00:00:10" },
        { "metadata", "{\"k\": \"" + new string('v', 513) + "\"}", "string values of at most 512" },
        { "hyperparameters", "{\"learning_rate\": -1}", "learning_rate must be in (0, 1)" },
        { "training_dataset", "\"00000000-0000-0000-0000-000000000001\"", "No dataset" },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public async Task Invalid_specs_are_422_naming_the_field(string field, string json, string message)
    {
        var request = JsonSerializer.SerializeToNode(await ValidRequestAsync())!.AsObject();
        request[field] = System.Text.Json.Nodes.JsonNode.Parse(json);
        var before = await CountJobsAsync();

        var response = await Admin.PostAsJsonAsync("/api/v1/jobs", request);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await Json(response)).GetProperty("errors");
        var messages = errors.EnumerateObject().Where(e => e.Name.StartsWith(field)).SelectMany(e => e.Value.EnumerateArray()).Select(m => m.GetString()!);
        Assert.Contains(messages, m => m.Contains(message));
        Assert.Equal(before, await CountJobsAsync());
    }

    [Fact]
    public async Task A_dry_run_is_checked_like_a_job_and_one_it_cannot_plan_is_a_422_never_a_500()
    {
        var invalid = JsonSerializer.SerializeToNode(await ValidRequestAsync())!.AsObject();
        invalid["hyperparameters"] = System.Text.Json.Nodes.JsonNode.Parse("{\"learning_rate\": 5}");
        var before = await CountJobsAsync();
        var refused = await Admin.PostAsJsonAsync("/api/v1/jobs?dry_run=true", invalid);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.True((await Json(refused)).GetProperty("errors").TryGetProperty("hyperparameters.learning_rate", out _));

        // The catalog lists the model but its folder holds no tokenizer here: the plan says so.
        var unplannable = await Admin.PostAsJsonAsync("/api/v1/jobs?dry_run=true", await ValidRequestAsync());
        var problem = await Json(unplannable);
        Assert.True(unplannable.StatusCode == HttpStatusCode.UnprocessableEntity, problem.ToString());
        Assert.Equal("The job cannot be planned.", problem.GetProperty("title").GetString());
        Assert.Contains("tokenizer.json", problem.GetProperty("errors").GetProperty("base_model")[0].GetString());
        Assert.Equal(before, await CountJobsAsync());
    }

    [Fact]
    public async Task A_training_set_of_the_wrong_format_is_refused()
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var mc = await Seed.DatasetAsync(factory.Database, tenant, "multiple_choice");
        var request = JsonSerializer.SerializeToNode(await ValidRequestAsync())!.AsObject();
        request["training_dataset"] = mc.Id;
        var response = await Admin.PostAsJsonAsync("/api/v1/jobs", request);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("has format 'multiple_choice'", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Another_tenants_dataset_and_job_do_not_exist_for_you()
    {
        var request = await ValidRequestAsync();
        var created = await Json(await Admin.PostAsJsonAsync("/api/v1/jobs", request));
        var jobId = created.GetProperty("id").GetGuid();

        var (_, otherKey) = await Seed.OtherTenantAsync(factory);
        var other = factory.CreateClient(otherKey);
        var theirs = await other.PostAsJsonAsync("/api/v1/jobs", request);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, theirs.StatusCode);
        Assert.Contains("No dataset", await theirs.Content.ReadAsStringAsync());

        foreach (var path in new[] { "", "/metrics", "/events", "/checkpoints", "/summary", "/artifacts" })
            Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/api/v1/jobs/{jobId}{path}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/api/v1/jobs/{jobId}/cancel", null)).StatusCode);
        Assert.Equal(0, (await Json(await other.GetAsync("/api/v1/jobs"))).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task A_retried_post_with_the_same_idempotency_key_returns_the_same_job()
    {
        var request = await ValidRequestAsync();
        var key = "retry-" + Guid.NewGuid();
        async Task<HttpResponseMessage> Post()
        {
            var message = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs") { Content = JsonContent.Create(request) };
            message.Headers.Add("Idempotency-Key", key);
            return await Admin.SendAsync(message);
        }

        var responses = await Task.WhenAll(Post(), Post(), Post());
        var ids = new HashSet<Guid>();
        foreach (var response in responses)
        {
            Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, response.StatusCode.ToString());
            ids.Add((await Json(response)).GetProperty("id").GetGuid());
        }
        Assert.Single(ids);
        Assert.Equal(HttpStatusCode.OK, (await Post()).StatusCode);
        await using var db = factory.Database.CreateContext();
        Assert.Equal(1, await db.Jobs.CountAsync(j => j.IdempotencyKey == key));
    }

    [Fact]
    public async Task A_queued_job_is_cancelled_at_once_and_a_finished_one_is_a_conflict()
    {
        var created = await Json(await Admin.PostAsJsonAsync("/api/v1/jobs", await ValidRequestAsync()));
        var id = created.GetProperty("id").GetGuid();

        var cancelled = await Admin.PostAsync($"/api/v1/jobs/{id}/cancel", null);
        Assert.Equal("cancelled", (await Json(cancelled)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Admin.PostAsync($"/api/v1/jobs/{id}/cancel", null)).StatusCode);

        await using (var db = factory.Database.CreateContext())
        {
            var job = new FineTuneJob { TenantId = await Seed.AdminTenantAsync(factory.Database), Spec = (await db.Jobs.SingleAsync(j => j.Id == id)).Spec };
            job.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow);
            job.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
            db.Jobs.Add(job);
            await db.SaveChangesAsync();
            Assert.Equal(HttpStatusCode.Conflict, (await Admin.PostAsync($"/api/v1/jobs/{job.Id}/cancel", null)).StatusCode);
        }
        var events = await Json(await Admin.GetAsync($"/api/v1/jobs/{id}/events"));
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("message").GetString()!.Contains("cancelled"));
    }

    private async Task<Guid> StoredJobAsync(Action<FineTuneJob> arrange)
    {
        await using var db = factory.Database.CreateContext();
        var job = new FineTuneJob { TenantId = await Seed.AdminTenantAsync(factory.Database), Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        arrange(job);
        db.Jobs.Add(job);
        await db.SaveChangesAsync();
        return job.Id;
    }

    [Fact]
    public async Task A_failed_job_is_retried_as_a_new_attempt_and_anything_else_is_a_conflict()
    {
        var failed = await StoredJobAsync(j =>
        {
            j.Claim("dead", TimeSpan.FromSeconds(30), DateTimeOffset.UtcNow);
            j.FailedAttempts = 3;
            j.Fail("worker_lost", "its worker died three times", DateTimeOffset.UtcNow);
        });
        var retried = await Admin.PostAsync($"/api/v1/jobs/{failed}/retry", null);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        var job = await Json(retried);
        Assert.Equal("queued", job.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, job.GetProperty("error").ValueKind);
        Assert.Equal(0, job.GetProperty("failed_attempts").GetInt32());
        await using (var db = factory.Database.CreateContext())
            Assert.NotNull((await db.Jobs.SingleAsync(j => j.Id == failed)).QueueJobId);
        // Queued now: a second retry is a conflict, as is retrying a succeeded job.
        Assert.Equal(HttpStatusCode.Conflict, (await Admin.PostAsync($"/api/v1/jobs/{failed}/retry", null)).StatusCode);
        var succeeded = await StoredJobAsync(j => { j.Claim("w", TimeSpan.FromSeconds(30), DateTimeOffset.UtcNow); j.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow); });
        var conflict = await Admin.PostAsync($"/api/v1/jobs/{succeeded}/retry", null);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Contains("succeeded", (await Json(conflict)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_running_job_whose_lease_expired_shows_a_stale_holder_and_no_eta()
    {
        var live = await StoredJobAsync(j => { j.Claim("alive", TimeSpan.FromMinutes(5), DateTimeOffset.UtcNow); j.Progress = new JobProgress { Step = 3, TotalSteps = 10, EtaSeconds = 42 }; });
        var dead = await StoredJobAsync(j => { j.Claim("dead", TimeSpan.FromSeconds(1), DateTimeOffset.UtcNow.AddMinutes(-5)); j.Progress = new JobProgress { Step = 3, TotalSteps = 10, EtaSeconds = 42 }; });

        var running = await Json(await Admin.GetAsync($"/api/v1/jobs/{live}"));
        Assert.False(running.GetProperty("holder").GetProperty("stale").GetBoolean());
        Assert.Equal("alive", running.GetProperty("holder").GetProperty("worker").GetString());
        Assert.Equal(42, running.GetProperty("progress").GetProperty("eta_seconds").GetDouble());

        var stale = await Json(await Admin.GetAsync($"/api/v1/jobs/{dead}"));
        Assert.True(stale.GetProperty("holder").GetProperty("stale").GetBoolean());
        Assert.Equal(JsonValueKind.Null, stale.GetProperty("progress").GetProperty("eta_seconds").ValueKind);
    }

    [Fact]
    public async Task Jobs_list_pages_newest_first_and_filters_by_status()
    {
        var (_, key) = await Seed.OtherTenantAsync(factory);
        var client = factory.CreateClient(key);
        await using (var db = factory.Database.CreateContext())
        {
            var tenant = (await db.ApiKeys.SingleAsync(k => k.Prefix == key.Split('_')[1])).TenantId;
            for (var i = 0; i < 5; i++)
                db.Jobs.Add(new FineTuneJob { TenantId = tenant, Name = $"job {i}", Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } });
            await db.SaveChangesAsync();
        }

        var first = await Json(await client.GetAsync("/api/v1/jobs?limit=2"));
        Assert.Equal(["job 4", "job 3"], first.GetProperty("data").EnumerateArray().Select(j => j.GetProperty("name").GetString()));
        Assert.True(first.GetProperty("has_more").GetBoolean());
        var next = first.GetProperty("next_after").GetGuid();
        var second = await Json(await client.GetAsync($"/api/v1/jobs?limit=2&after={next}"));
        Assert.Equal(["job 2", "job 1"], second.GetProperty("data").EnumerateArray().Select(j => j.GetProperty("name").GetString()));
        var succeeded = await Json(await client.GetAsync("/api/v1/jobs?status=succeeded"));
        Assert.Equal(0, succeeded.GetProperty("data").GetArrayLength());
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/jobs?limit=1000")).StatusCode);
    }

    private async Task<int> CountJobsAsync()
    {
        await using var db = factory.Database.CreateContext();
        return await db.Jobs.CountAsync();
    }
}
