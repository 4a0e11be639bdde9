using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

/// <summary>POST /jobs/{id}/promote and the promoted model's life: visibility, lineage, deletion; rows and files in the real stores.</summary>
public sealed class PromotionApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private HttpClient Admin => factory.CreateClient(TestKeys.Admin);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>A job of <paramref name="tenantId"/> on <paramref name="baseModel"/> as a worker leaves it, with the given output folders.</summary>
    private async Task<FineTuneJob> JobAsync(Guid tenantId, string baseModel, FineTuneMethod method, JobStatus status, params string[] outputFolders)
    {
        var job = new FineTuneJob { TenantId = tenantId, Spec = new JobSpec { BaseModel = baseModel, Method = method, TrainingDataset = Guid.NewGuid().ToString() } };
        var now = DateTimeOffset.UtcNow;
        if (status != JobStatus.Queued) job.Claim("test-worker", TimeSpan.FromMinutes(1), now);
        if (status == JobStatus.Succeeded) job.MoveTo(JobStatus.Succeeded, now);
        if (status == JobStatus.Failed) job.Fail("crashed", "test", now);
        if (status == JobStatus.Cancelled) { job.MoveTo(JobStatus.Cancelling, now); job.MoveTo(JobStatus.Cancelled, now); }
        await using (var db = factory.Database.CreateContext())
        {
            db.Jobs.Add(job);
            await db.SaveChangesAsync();
        }
        foreach (var folder in outputFolders)
        {
            var path = Path.Combine(factory.ArtifactsPath, JobStorageKeys.Output(job.Id), folder);
            Directory.CreateDirectory(path);
            if (folder == "adapter")
            {
                File.WriteAllText(Path.Combine(path, "adapter_config.json"), "{}");
                File.WriteAllBytes(Path.Combine(path, "adapter_model.safetensors"), [1, 2, 3]);
                continue;
            }
            File.WriteAllText(Path.Combine(path, "config.json"), $$"""{"from":"{{folder}}"}""");
            File.WriteAllBytes(Path.Combine(path, "model.safetensors"), Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray());
            File.WriteAllText(Path.Combine(path, "tokenizer.json"), "{}");
        }
        return job;
    }

    private static Task<HttpResponseMessage> PromoteAsync(HttpClient client, Guid job, string name) =>
        client.PostAsJsonAsync($"/api/v1/jobs/{job}/promote", new { name });

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement;
    }

    private bool ModelFolderExists(string name) => Directory.Exists(Path.Combine(factory.ModelsPath, name));

    [Fact]
    public async Task A_full_fine_tune_is_copied_into_the_models_store_with_its_lineage_and_outlives_its_job()
    {
        var parent = await Seed.ModelAsync(factory.Database);
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var job = await JobAsync(tenant, parent.Name, FineTuneMethod.Full, JobStatus.Succeeded, "model");
        var name = NewName("promoted");

        var response = await PromoteAsync(Admin, job.Id, name);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal($"/api/v1/models/{name}", response.Headers.Location?.ToString());
        var model = await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/models/{name}");
        Assert.Equal(tenant, model.GetProperty("owner_tenant_id").GetGuid());
        var lineage = model.GetProperty("lineage");
        Assert.Equal(parent.Name, lineage.GetProperty("parent_model").GetString());
        Assert.Equal(job.Id, lineage.GetProperty("job_id").GetGuid());
        Assert.Equal(tenant, lineage.GetProperty("promoted_by").GetGuid());
        Assert.True(DateTimeOffset.UtcNow - lineage.GetProperty("promoted_at").GetDateTimeOffset() < TimeSpan.FromMinutes(1));
        Assert.Equal((parent.Architecture, parent.Layers, parent.HiddenSize), (model.GetProperty("architecture").GetString(), model.GetProperty("layers").GetInt32(), model.GetProperty("hidden_size").GetInt32()));
        var listed = (await Admin.GetFromJsonAsync<JsonElement>("/api/v1/models")).EnumerateArray().Single(m => m.GetProperty("name").GetString() == name);
        Assert.Equal(job.Id, listed.GetProperty("lineage").GetProperty("job_id").GetGuid());
        Assert.Equal(JsonValueKind.Null, (await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/models/{parent.Name}")).GetProperty("lineage").ValueKind);

        // The files are a copy in the models folder (with the marker that keeps the folder sync from making it global).
        var source = Path.Combine(factory.ArtifactsPath, JobStorageKeys.Output(job.Id), "model");
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(source, file)), File.ReadAllBytes(Path.Combine(factory.ModelsPath, name, file)));
        Assert.True(File.Exists(Path.Combine(factory.ModelsPath, name, PromotedModelStore.MarkerFile)));
        Assert.Empty(Directory.GetDirectories(factory.ModelsPath, ".*"));
        var events = await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/events");
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("type").GetString() == "promoted");

        // Deleting the job (as retention deletes its outputs) leaves the promoted model whole.
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/jobs/{job.Id}")).StatusCode);
        Assert.False(Directory.Exists(source));
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync($"/api/v1/models/{name}")).StatusCode);
        Assert.True(File.Exists(Path.Combine(factory.ModelsPath, name, "model.safetensors")));
    }

    [Fact]
    public async Task A_lora_job_promotes_its_merged_model_and_without_one_is_merged_by_a_worker_with_202()
    {
        var parent = await Seed.ModelAsync(factory.Database);
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var merged = await JobAsync(tenant, parent.Name, FineTuneMethod.Lora, JobStatus.Succeeded, "adapter", "merged");
        var name = NewName("merged");

        Assert.Equal(HttpStatusCode.Created, (await PromoteAsync(Admin, merged.Id, name)).StatusCode);
        Assert.Equal("""{"from":"merged"}""", File.ReadAllText(Path.Combine(factory.ModelsPath, name, "config.json")));

        var adapterOnly = await JobAsync(tenant, parent.Name, FineTuneMethod.Lora, JobStatus.Succeeded, "adapter");
        var later = NewName("later");
        var accepted = await PromoteAsync(Admin, adapterOnly.Id, later);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal($"/api/v1/models/{later}", accepted.Headers.Location?.ToString());
        Assert.Equal("merging", (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        await using var db = factory.Database.CreateContext();
        Assert.True(await db.JobEvents.AnyAsync(e => e.JobId == adapterOnly.Id && e.Type == "promotion_queued"));
        // No worker runs here: nothing is registered until one has merged it.
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.GetAsync($"/api/v1/models/{later}")).StatusCode);
    }

    [Fact]
    public async Task A_promoted_model_is_visible_to_its_tenant_and_admins_only_and_others_cannot_train_on_it()
    {
        var parent = await Seed.ModelAsync(factory.Database);
        var (ownerTenant, ownerKey) = await Seed.OtherTenantAsync(factory);
        var owner = factory.CreateClient(ownerKey);
        var job = await JobAsync(ownerTenant, parent.Name, FineTuneMethod.Full, JobStatus.Succeeded, "model");
        var name = NewName("private");
        Assert.Equal(HttpStatusCode.Created, (await PromoteAsync(owner, job.Id, name)).StatusCode);
        var (strangerTenant, strangerKey) = await Seed.OtherTenantAsync(factory);
        var stranger = factory.CreateClient(strangerKey);

        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync($"/api/v1/models/{name}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync($"/api/v1/models/{name}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"/api/v1/models/{name}")).StatusCode);
        var strangersList = await stranger.GetFromJsonAsync<JsonElement>("/api/v1/models");
        Assert.DoesNotContain(strangersList.EnumerateArray(), m => m.GetProperty("name").GetString() == name);
        Assert.Contains(strangersList.EnumerateArray(), m => m.GetProperty("name").GetString() == parent.Name);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.DeleteAsync($"/api/v1/models/{name}")).StatusCode);

        // Creating a job on it reads exactly as a model that does not exist; the owner can.
        var strangersData = await Seed.DatasetAsync(factory.Database, strangerTenant);
        var refused = await stranger.PostAsJsonAsync("/api/v1/jobs", new { base_model = name, training_dataset = strangersData.Id });
        var message = (await ProblemAsync(refused, HttpStatusCode.UnprocessableEntity)).GetProperty("errors").GetProperty("base_model")[0].GetString();
        Assert.Equal($"No base model named '{name}' (see GET /api/v1/models).", message);
        var ownersData = await Seed.DatasetAsync(factory.Database, ownerTenant);
        var created = await owner.PostAsJsonAsync("/api/v1/jobs", new { base_model = name, training_dataset = ownersData.Id });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Unfinished_failed_cancelled_foreign_and_emptied_jobs_are_refused_and_nothing_is_written()
    {
        var parent = await Seed.ModelAsync(factory.Database);
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var name = NewName("refused");

        foreach (var status in new[] { JobStatus.Queued, JobStatus.Running })
        {
            var unfinished = await JobAsync(tenant, parent.Name, FineTuneMethod.Full, status, "model");
            Assert.Contains(status.ToString().ToLowerInvariant(), (await ProblemAsync(await PromoteAsync(Admin, unfinished.Id, name), HttpStatusCode.Conflict)).GetProperty("detail").GetString());
        }
        foreach (var status in new[] { JobStatus.Failed, JobStatus.Cancelled })
        {
            var ended = await JobAsync(tenant, parent.Name, FineTuneMethod.Full, status, "model");
            var problem = await ProblemAsync(await PromoteAsync(Admin, ended.Id, name), HttpStatusCode.UnprocessableEntity);
            Assert.Contains(status.ToString().ToLowerInvariant(), problem.GetProperty("errors").GetProperty("job")[0].GetString());
        }
        var expired = await JobAsync(tenant, parent.Name, FineTuneMethod.Lora, JobStatus.Succeeded);
        Assert.Contains("nothing to promote", (await ProblemAsync(await PromoteAsync(Admin, expired.Id, name), HttpStatusCode.UnprocessableEntity))
            .GetProperty("errors").GetProperty("job")[0].GetString());

        var (otherTenant, _) = await Seed.OtherTenantAsync(factory);
        var foreign = await JobAsync(otherTenant, parent.Name, FineTuneMethod.Full, JobStatus.Succeeded, "model");
        Assert.Equal(HttpStatusCode.NotFound, (await PromoteAsync(Admin, foreign.Id, name)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PromoteAsync(Admin, Guid.NewGuid(), name)).StatusCode);

        Assert.False(ModelFolderExists(name));
        await using var db = factory.Database.CreateContext();
        Assert.False(await db.BaseModels.AnyAsync(m => m.Name == name));
    }

    [Fact]
    public async Task Names_must_be_safe_path_components_and_free_among_all_models()
    {
        var parent = await Seed.ModelAsync(factory.Database);
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var job = await JobAsync(tenant, parent.Name, FineTuneMethod.Full, JobStatus.Succeeded, "model");

        foreach (var bad in new[] { "", "../escape", "a/b", ".hidden", "Upper", new string('a', 65), "x\u0000y" })
        {
            var problem = await ProblemAsync(await PromoteAsync(Admin, job.Id, bad), HttpStatusCode.UnprocessableEntity);
            Assert.True(problem.GetProperty("errors").TryGetProperty("name", out _), bad);
        }
        var missing = await Admin.PostAsJsonAsync($"/api/v1/jobs/{job.Id}/promote", new { });
        Assert.True((await ProblemAsync(missing, HttpStatusCode.UnprocessableEntity)).GetProperty("errors").TryGetProperty("name", out _));

        // A global model's name, and a name another tenant's promoted model has.
        Assert.Equal(HttpStatusCode.Conflict, (await PromoteAsync(Admin, job.Id, parent.Name)).StatusCode);
        var (otherTenant, otherKey) = await Seed.OtherTenantAsync(factory);
        var othersJob = await JobAsync(otherTenant, parent.Name, FineTuneMethod.Full, JobStatus.Succeeded, "model");
        var taken = NewName("taken");
        Assert.Equal(HttpStatusCode.Created, (await PromoteAsync(factory.CreateClient(otherKey), othersJob.Id, taken)).StatusCode);
        var conflict = await ProblemAsync(await PromoteAsync(Admin, job.Id, taken), HttpStatusCode.Conflict);
        Assert.Contains(taken, conflict.GetProperty("detail").GetString());
        Assert.Empty(Directory.GetDirectories(factory.ModelsPath, ".*"));
    }

    [Fact]
    public async Task The_owner_deletes_a_promoted_model_unless_a_queued_job_uses_it_and_nobody_deletes_a_global_one()
    {
        var parent = await Seed.ModelAsync(factory.Database);
        var (ownerTenant, ownerKey) = await Seed.OtherTenantAsync(factory);
        var owner = factory.CreateClient(ownerKey);
        var job = await JobAsync(ownerTenant, parent.Name, FineTuneMethod.Full, JobStatus.Succeeded, "model");
        var name = NewName("deletable");
        Assert.Equal(HttpStatusCode.Created, (await PromoteAsync(owner, job.Id, name)).StatusCode);

        var user = await JobAsync(ownerTenant, name, FineTuneMethod.Lora, JobStatus.Queued);
        var busy = await ProblemAsync(await owner.DeleteAsync($"/api/v1/models/{name}"), HttpStatusCode.Conflict);
        Assert.Contains(user.Id.ToString(), busy.GetProperty("detail").GetString());
        Assert.True(ModelFolderExists(name));
        await owner.PostAsync($"/api/v1/jobs/{user.Id}/cancel", null);

        await ProblemAsync(await owner.DeleteAsync($"/api/v1/models/{parent.Name}"), HttpStatusCode.Forbidden);
        await ProblemAsync(await Admin.DeleteAsync($"/api/v1/models/{parent.Name}"), HttpStatusCode.Forbidden);

        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/v1/models/{name}")).StatusCode);
        Assert.False(ModelFolderExists(name));
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync($"/api/v1/models/{name}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.DeleteAsync($"/api/v1/models/{name}")).StatusCode);
        Assert.Empty(Directory.GetDirectories(factory.ModelsPath, ".*"));
    }
}
