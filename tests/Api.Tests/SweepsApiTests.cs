using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Contracts;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

public sealed class SweepsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private HttpClient Admin => factory.CreateClient(TestKeys.Admin);

    private sealed record Sets(string Model, Guid Train, Guid Target, Guid Source);

    private async Task<Sets> SetsAsync(Guid? tenant = null)
    {
        var owner = tenant ?? await Seed.AdminTenantAsync(factory.Database);
        var model = await Seed.ModelAsync(factory.Database);
        return new Sets(model.Name, (await Seed.DatasetAsync(factory.Database, owner, "prompt_completion")).Id,
            (await Seed.DatasetAsync(factory.Database, owner, "text")).Id, (await Seed.DatasetAsync(factory.Database, owner, "text")).Id);
    }

    private static JsonObject Base(Sets sets) => new()
    {
        ["base_model"] = sets.Model,
        ["training_dataset"] = sets.Train.ToString(),
        ["hyperparameters"] = new JsonObject { ["max_steps"] = 10, ["max_sequence_length"] = 64 },
        ["evaluation"] = new JsonObject { ["target"] = new JsonArray(sets.Target.ToString()), ["source"] = new JsonArray(sets.Source.ToString()), ["every_n_steps"] = 5 },
    };

    private static JsonObject Sweep(JsonObject baseSpec, string grid) =>
        new() { ["name"] = "rank-sweep", ["base"] = baseSpec, ["grid"] = JsonNode.Parse(grid) };

    private static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    private async Task<(int Jobs, int Sweeps, int Children)> CountRowsAsync()
    {
        await using var db = factory.Database.CreateContext();
        return (await db.Jobs.CountAsync(), await db.Sweeps.CountAsync(), await db.SweepChildren.CountAsync());
    }

    private async Task<JsonElement> CreateAsync(JsonObject body, HttpClient? client = null)
    {
        var response = await (client ?? Admin).PostAsJsonAsync("/api/v1/sweeps", body);
        var json = await Json(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, json.ToString());
        return json;
    }

    [Fact]
    public async Task A_sweep_expands_its_grid_with_the_papers_learning_rates_and_queues_every_child()
    {
        var sets = await SetsAsync();
        var before = await CountRowsAsync();

        var sweep = await CreateAsync(Sweep(Base(sets), """{"method": ["lora", "full"], "lora.rank": [4, 16]}"""));

        var children = sweep.GetProperty("children").EnumerateArray().ToList();
        // LoRA: 2 ranks × 3 rates; full: the ranks collapse, 3 rates.
        Assert.Equal(9, children.Count);
        Assert.Equal(before.Jobs + 9, (await CountRowsAsync()).Jobs);
        Assert.Equal(9, sweep.GetProperty("statuses").GetProperty("queued").GetInt32());
        var coordinates = children.Select(c => c.GetProperty("coordinates").ToString()).ToList();
        Assert.Equal("""{"method":"lora","lora.rank":4,"hyperparameters.learning_rate":0.0001}""", coordinates[0]);
        Assert.Equal("""{"method":"full","hyperparameters.learning_rate":0.00005}""", coordinates[8]);
        Assert.Equal([0.0001, 0.0002, 0.0005, 0.0001, 0.0002, 0.0005, 0.00001, 0.00002, 0.00005], children.Select(c => c.GetProperty("learning_rate").GetDouble()));
        Assert.Equal([4, 4, 4, 16, 16, 16], children.Take(6).Select(c => c.GetProperty("rank").GetInt32()));
        Assert.All(children.Skip(6), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("rank").ValueKind));
        Assert.All(children, c => Assert.Equal(JsonValueKind.Null, c.GetProperty("learning").ValueKind));
        Assert.All(children, c => Assert.False(c.GetProperty("on_front").GetBoolean()));

        // Each child is a job like any other: resolved with α = 2r and every projection, queued on Hangfire.
        var job = await Json(await Admin.GetAsync($"/api/v1/jobs/{children[3].GetProperty("job_id").GetGuid()}"));
        Assert.Equal("queued", job.GetProperty("status").GetString());
        var lora = job.GetProperty("spec").GetProperty("lora");
        Assert.Equal((16, 32.0, 7), (lora.GetProperty("rank").GetInt32(), lora.GetProperty("alpha").GetDouble(), lora.GetProperty("target_modules").GetArrayLength()));
        Assert.Equal("rank-sweep [method=lora,lora.rank=16,hyperparameters.learning_rate=0.0001]", job.GetProperty("name").GetString());
        var full = await Json(await Admin.GetAsync($"/api/v1/jobs/{children[8].GetProperty("job_id").GetGuid()}"));
        Assert.Equal(JsonValueKind.Null, full.GetProperty("spec").GetProperty("lora").ValueKind);
        await using var db = factory.Database.CreateContext();
        var ids = children.Select(c => c.GetProperty("job_id").GetGuid()).ToList();
        Assert.All(await db.Jobs.Where(j => ids.Contains(j.Id)).ToListAsync(), j => Assert.NotNull(j.QueueJobId));
    }

    public static TheoryData<string, string, string> BadGrids => new()
    {
        { "{}", "grid", "at least one" },
        { """{"lora.rank": []}""", "grid.lora.rank", "empty" },
        { """{"lora.rnak": [4]}""", "grid.lora.rnak", "not a field" },
        { """{"evaluation.source": [[]]}""", "grid.evaluation.source", "cannot vary" },
        { """{"lora.rank": [1, 2, 3, 4, 5, 6, 7, 8], "hyperparameters.seed": [1, 2, 3]}""", "grid", "expands to 72 children; a sweep may have at most 64" },
        { """{"lora.rank": [4, 65]}""", "children[lora.rank=65,hyperparameters.learning_rate=0.0001].lora.rank", "larger than the model's hidden size" },
        { """{"lora.rank": [4, "x"]}""", "children[lora.rank=x,hyperparameters.learning_rate=0.0001].lora.rank", "rank must be a whole JSON number" },
        { """{"method": ["lora", "qlora"]}""", "children[method=qlora,hyperparameters.learning_rate=0.0001].method", "must be one of lora, full" },
        { """{"hyperparameters.learning_rate": [0.001, 5]}""", "children[hyperparameters.learning_rate=5].hyperparameters.learning_rate", "learning_rate must be in (0, 1)" },
        { """{"hyperparameters.batch_size": [8, 6]}""", "children[hyperparameters.batch_size=6,hyperparameters.learning_rate=0.0001].hyperparameters.micro_batch_size", "multiple of micro_batch_size" },
        { """{"lora.target_modules": [["q_proj"], ["c_attn"]]}""", "children[lora.target_modules=[\"c_attn\"],hyperparameters.learning_rate=0.0001].lora.target_modules[0]", "'c_attn' is not a module" },
    };

    [Theory]
    [MemberData(nameof(BadGrids))]
    public async Task A_bad_grid_or_child_is_a_422_naming_the_key_and_queues_nothing(string grid, string key, string message)
    {
        var sets = await SetsAsync();
        var before = await CountRowsAsync();

        var response = await Admin.PostAsJsonAsync("/api/v1/sweeps", Sweep(Base(sets), grid));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await Json(response)).GetProperty("errors");
        Assert.True(errors.TryGetProperty(key, out var messages), errors.ToString());
        Assert.Contains(messages.EnumerateArray(), m => m.GetString()!.Contains(message));
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task A_sweep_without_a_base_or_with_an_invalid_base_is_a_422_and_queues_nothing()
    {
        var sets = await SetsAsync();
        var before = await CountRowsAsync();
        var noBase = await Admin.PostAsJsonAsync("/api/v1/sweeps", new { name = "x", grid = new Dictionary<string, int[]> { ["lora.rank"] = [4] } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, noBase.StatusCode);
        Assert.True((await Json(noBase)).GetProperty("errors").TryGetProperty("base", out _));

        var invalid = Base(sets);
        invalid.Remove("training_dataset");
        var response = await Admin.PostAsJsonAsync("/api/v1/sweeps", Sweep(invalid, """{"lora.rank": [4], "hyperparameters.learning_rate": [0.001]}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        // What every child gets wrong alike, outside the grid's keys, is the base's: said once.
        var errors = (await Json(response)).GetProperty("errors");
        Assert.Equal(["base.training_dataset"], errors.EnumerateObject().Select(e => e.Name));
        Assert.Equal("training_dataset is required.", errors.GetProperty("base.training_dataset")[0].GetString());

        var unknown = Base(sets);
        unknown["lora"] = new JsonObject { ["rnak"] = 3 };
        var misspelt = await Admin.PostAsJsonAsync("/api/v1/sweeps", Sweep(unknown, """{"hyperparameters.learning_rate": [5, 7]}"""));
        var named = (await Json(misspelt)).GetProperty("errors");
        Assert.Contains("'lora.rnak' is not a field", named.GetProperty("base.lora.rnak")[0].GetString());
        Assert.Equal(["base.lora.rnak"], named.EnumerateObject().Select(e => e.Name));

        // Alike, but set by the grid: each child's own.
        var rates = await Admin.PostAsJsonAsync("/api/v1/sweeps", Sweep(Base(sets), """{"hyperparameters.learning_rate": [5, 7]}"""));
        Assert.Equal(["children[hyperparameters.learning_rate=5].hyperparameters.learning_rate", "children[hyperparameters.learning_rate=7].hyperparameters.learning_rate"],
            (await Json(rates)).GetProperty("errors").EnumerateObject().Select(e => e.Name).Order());
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task A_sweep_past_the_queued_jobs_quota_is_a_429_and_queues_nothing()
    {
        var (tenant, key) = await Seed.OtherTenantAsync(factory);
        using var host = factory.WithWebHostBuilder(b => b.UseSetting($"Quotas:Tenants:{tenant}:QueuedJobs", "4"));
        var client = host.CreateClient(key);
        var sets = await SetsAsync(tenant);
        await CreateAsync(Sweep(Base(sets), """{"lora.rank": [4, 8], "hyperparameters.learning_rate": [0.001]}"""), client);
        var before = await CountRowsAsync();

        var response = await client.PostAsJsonAsync("/api/v1/sweeps", Sweep(Base(sets), """{"lora.rank": [4, 8, 16], "hyperparameters.learning_rate": [0.001]}"""));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var problem = await Json(response);
        Assert.Equal(("queued_jobs", 4, 2), (problem.GetProperty("quota").GetString(), problem.GetProperty("limit").GetInt32(), problem.GetProperty("current").GetInt32()));
        Assert.Contains("This queues 3 jobs", problem.GetProperty("detail").GetString());
        Assert.Equal(before, await CountRowsAsync());
    }

    /// <summary>Four children, evaluated by hand: c0 (0.2, 0.05) and c1 (0.5, 0.10) make the front, c2 (0.4, 0.20) is behind
    /// c1, c3 only has its step-0 evaluation.</summary>
    private async Task<(Sets Sets, Guid Sweep, Guid[] Children)> EvaluatedSweepAsync()
    {
        var sets = await SetsAsync();
        var sweep = await CreateAsync(Sweep(Base(sets), """{"lora.rank": [4, 8, 16, 32], "hyperparameters.learning_rate": [0.001]}"""));
        var children = sweep.GetProperty("children").EnumerateArray().Select(c => c.GetProperty("job_id").GetGuid()).ToArray();
        await using var db = factory.Database.CreateContext();
        void Eval(Guid job, int step, double target, double source)
        {
            db.MetricPoints.Add(new MetricPoint { JobId = job, Name = MetricNames.Eval(MetricNames.Target, sets.Target, "loss"), Step = step, Value = target });
            db.MetricPoints.Add(new MetricPoint { JobId = job, Name = MetricNames.Eval(MetricNames.Source, sets.Source, "loss"), Step = step, Value = source });
        }
        foreach (var child in children) Eval(child, 0, 2.0, 1.0);
        Eval(children[0], 10, 1.8, 1.05);
        Eval(children[1], 5, 1.7, 1.02);
        Eval(children[1], 10, 1.5, 1.10);
        Eval(children[2], 10, 1.6, 1.20);
        await db.SaveChangesAsync();
        return (sets, sweep.GetProperty("id").GetGuid(), children);
    }

    [Fact]
    public async Task A_sweep_reports_learning_forgetting_the_front_and_the_best_job_under_a_limit()
    {
        var (_, id, c) = await EvaluatedSweepAsync();

        var sweep = await Json(await Admin.GetAsync($"/api/v1/sweeps/{id}"));

        Assert.Equal(("loss", "loss"), (sweep.GetProperty("learning_metric").GetString(), sweep.GetProperty("forgetting_metric").GetString()));
        Assert.Equal(["loss", "perplexity", "token_accuracy"], sweep.GetProperty("metrics").GetProperty("learning").EnumerateArray().Select(m => m.GetString()));
        var children = sweep.GetProperty("children").EnumerateArray().ToList();
        double?[] learning = [0.2, 0.5, 0.4, null], forgetting = [0.05, 0.10, 0.20, null];
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(c[i], children[i].GetProperty("job_id").GetGuid());
            if (learning[i] is { } l)
            {
                Assert.Equal(l, children[i].GetProperty("learning").GetDouble(), 12);
                Assert.Equal(forgetting[i]!.Value, children[i].GetProperty("forgetting").GetDouble(), 12);
            }
            else Assert.Equal(JsonValueKind.Null, children[i].GetProperty("learning").ValueKind);
        }
        Assert.Equal([true, true, false, false], children.Select(x => x.GetProperty("on_front").GetBoolean()));
        Assert.Equal([c[0], c[1]], sweep.GetProperty("front").EnumerateArray().Select(x => x.GetGuid()));
        Assert.Equal(c[1], sweep.GetProperty("best").GetGuid());
        var path = children[1].GetProperty("path").EnumerateArray().ToList();
        Assert.Equal([0, 5, 10], path.Select(p => p.GetProperty("step").GetInt32()));
        Assert.Equal(0.3, path[1].GetProperty("learning").GetDouble(), 12);
        Assert.Equal(0.02, path[1].GetProperty("forgetting").GetDouble(), 12);
        Assert.Equal("""{"lora.rank":8,"hyperparameters.learning_rate":0.001}""", children[1].GetProperty("coordinates").ToString());

        Assert.Equal(c[0], (await Json(await Admin.GetAsync($"/api/v1/sweeps/{id}?max_forgetting=0.06"))).GetProperty("best").GetGuid());
        Assert.Equal(c[1], (await Json(await Admin.GetAsync($"/api/v1/sweeps/{id}?max_forgetting=0.15"))).GetProperty("best").GetGuid());
        Assert.Equal(JsonValueKind.Null, (await Json(await Admin.GetAsync($"/api/v1/sweeps/{id}?max_forgetting=0.01"))).GetProperty("best").ValueKind);

        // Another metric the sets measure, not evaluated here: nobody is placed. One they do not measure: 422 naming it.
        var byPerplexity = await Json(await Admin.GetAsync($"/api/v1/sweeps/{id}?metric=perplexity"));
        Assert.All(byPerplexity.GetProperty("children").EnumerateArray(), x => Assert.Equal(JsonValueKind.Null, x.GetProperty("learning").ValueKind));
        Assert.Empty(byPerplexity.GetProperty("front").EnumerateArray());
        foreach (var (query, field) in new[] { ("metric=acc_norm", "metric"), ("forgetting_metric=exact_match", "forgetting_metric"), ("max_forgetting=NaN", "max_forgetting") })
        {
            var refused = await Admin.GetAsync($"/api/v1/sweeps/{id}?{query}");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
            Assert.True((await Json(refused)).GetProperty("errors").TryGetProperty(field, out _), query);
        }
    }

    [Fact]
    public async Task The_jobs_list_shows_each_jobs_headline_learning_and_forgetting()
    {
        var (_, _, c) = await EvaluatedSweepAsync();

        var page = await Json(await Admin.GetAsync("/api/v1/jobs?limit=100"));

        var jobs = page.GetProperty("data").EnumerateArray().ToDictionary(j => j.GetProperty("id").GetGuid());
        var headline = jobs[c[1]].GetProperty("headline");
        Assert.Equal(("loss", "loss", 10), (headline.GetProperty("learning_metric").GetString(), headline.GetProperty("forgetting_metric").GetString(), headline.GetProperty("step").GetInt32()));
        Assert.Equal(0.5, headline.GetProperty("learning").GetDouble(), 12);
        Assert.Equal(0.1, headline.GetProperty("forgetting").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, jobs[c[3]].GetProperty("headline").ValueKind); // evaluated at step 0 only
        Assert.Equal(0.2, (await Json(await Admin.GetAsync($"/api/v1/jobs/{c[0]}"))).GetProperty("headline").GetProperty("learning").GetDouble(), 12);
    }

    [Fact]
    public async Task Cancel_cancels_every_unfinished_child_and_is_idempotent_and_another_tenant_sees_nothing()
    {
        var (_, id, c) = await EvaluatedSweepAsync();
        await using (var db = factory.Database.CreateContext())
        {
            var done = await db.Jobs.SingleAsync(j => j.Id == c[0]);
            done.Claim("w", TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow);
            done.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
            await db.SaveChangesAsync();
        }
        var (_, otherKey) = await Seed.OtherTenantAsync(factory);
        var other = factory.CreateClient(otherKey);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/api/v1/sweeps/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/api/v1/sweeps/{id}/cancel", null)).StatusCode);
        Assert.DoesNotContain(id, (await Json(await other.GetAsync("/api/v1/sweeps"))).GetProperty("data").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()));
        var foreignCompare = await other.GetAsync($"/api/v1/compare?job_ids={c[0]}");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, foreignCompare.StatusCode);
        Assert.True((await Json(foreignCompare)).GetProperty("errors").TryGetProperty("job_ids[0]", out _));

        for (var round = 0; round < 2; round++)
        {
            var response = await Admin.PostAsync($"/api/v1/sweeps/{id}/cancel", null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var statuses = (await Json(response)).GetProperty("statuses");
            Assert.Equal((3, 1), (statuses.GetProperty("cancelled").GetInt32(), statuses.GetProperty("succeeded").GetInt32()));
        }
        await using var check = factory.Database.CreateContext();
        Assert.Equal(3, await check.JobEvents.CountAsync(e => c.Contains(e.JobId) && e.Message == "Job cancelled before it started"));

        var listed = (await Json(await Admin.GetAsync("/api/v1/sweeps?limit=100"))).GetProperty("data").EnumerateArray().Single(s => s.GetProperty("id").GetGuid() == id);
        Assert.Equal(4, listed.GetProperty("children").GetInt32());
        Assert.Equal(3, listed.GetProperty("statuses").GetProperty("cancelled").GetInt32());
    }

    [Fact]
    public async Task Compare_places_any_set_of_comparable_jobs_and_names_the_job_that_differs()
    {
        var (sets, _, c) = await EvaluatedSweepAsync();

        var compared = await Json(await Admin.GetAsync($"/api/v1/compare?job_ids={c[2]},{c[1]},{c[0]}"));
        Assert.Equal([c[2], c[1], c[0]], compared.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("job_id").GetGuid()));
        Assert.Equal([false, true, true], compared.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("on_front").GetBoolean()));
        Assert.Equal([c[0], c[1]], compared.GetProperty("front").EnumerateArray().Select(x => x.GetGuid()));
        Assert.Equal(c[1], compared.GetProperty("best").GetGuid());
        Assert.Equal(3, compared.GetProperty("jobs")[1].GetProperty("path").GetArrayLength());
        // Without c1 the front and the best change.
        var two = await Json(await Admin.GetAsync($"/api/v1/compare?job_ids={c[0]},{c[2]}&max_forgetting=0.3"));
        Assert.Equal([c[0], c[2]], two.GetProperty("front").EnumerateArray().Select(x => x.GetGuid()));
        Assert.Equal(c[2], two.GetProperty("best").GetGuid());

        // A job on another base model, or with other eval sets, is named.
        var otherModel = await Seed.ModelAsync(factory.Database);
        var elsewhere = Base(sets with { Model = otherModel.Name });
        var onOtherModel = (await Json(await Admin.PostAsJsonAsync("/api/v1/jobs", elsewhere))).GetProperty("id").GetGuid();
        var otherSets = Base(sets);
        otherSets["evaluation"]!["source"] = new JsonArray(sets.Target.ToString());
        var onOtherSets = (await Json(await Admin.PostAsJsonAsync("/api/v1/jobs", otherSets))).GetProperty("id").GetGuid();
        var refused = await Admin.GetAsync($"/api/v1/compare?job_ids={c[0]},{onOtherModel},{c[1]},{onOtherSets}");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var errors = (await Json(refused)).GetProperty("errors");
        Assert.Equal(["job_ids[1]", "job_ids[3]"], errors.EnumerateObject().Select(e => e.Name).Order());
        Assert.Contains($"is on base model '{otherModel.Name}'", errors.GetProperty("job_ids[1]")[0].GetString());
        Assert.Contains("has source sets", errors.GetProperty("job_ids[3]")[0].GetString());

        foreach (var (query, field) in new[] { ("", "job_ids"), ("job_ids=nope", "job_ids[0]"), ($"job_ids={Guid.NewGuid()}", "job_ids[0]"), ($"job_ids={c[0]}&metric=acc", "metric") })
        {
            var bad = await Admin.GetAsync($"/api/v1/compare?{query}");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
            Assert.True((await Json(bad)).GetProperty("errors").TryGetProperty(field, out _), query);
        }
    }
}
