using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LoraService.Domain.Jobs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LoraService.Api.Tests;

public sealed class QuotaTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    /// <summary>A fresh tenant and a host whose configuration gives that tenant its own quotas.</summary>
    private async Task<(Guid Tenant, HttpClient Client, WebApplicationFactory<Program> Host)> TenantWithQuotasAsync(params (string Key, string Value)[] quotas)
    {
        var (tenant, key) = await Seed.OtherTenantAsync(factory);
        var host = factory.WithWebHostBuilder(b =>
        {
            foreach (var (name, value) in quotas) b.UseSetting($"Quotas:Tenants:{tenant}:{name}", value);
        });
        return (tenant, host.CreateClient(key), host);
    }

    private static async Task AssertQuotaProblemAsync(HttpResponseMessage response, HttpStatusCode status, string quota, long limit)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((quota, limit), (problem.GetProperty("quota").GetString(), problem.GetProperty("limit").GetInt64()));
        Assert.Contains(quota, problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Usage_counts_dataset_output_and_checkpoint_bytes_and_unfinished_jobs()
    {
        var (tenant, client, host) = await TenantWithQuotasAsync(("QueuedJobs", "7"));
        using var _ = host;
        await Seed.DatasetAsync(factory.Database, tenant);
        await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Succeeded);
        await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Running, checkpoints: 1);
        await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Queued, checkpoints: 0);

        var usage = await client.GetFromJsonAsync<JsonElement>("/api/v1/me/usage");

        var storage = usage.GetProperty("storage");
        Assert.Equal(100, storage.GetProperty("datasets_bytes").GetInt64());
        Assert.Equal(3 * (8192 + 200 + 300), storage.GetProperty("job_outputs_bytes").GetInt64());
        Assert.Equal(3 * 4096, storage.GetProperty("checkpoints_bytes").GetInt64());
        Assert.Equal(100 + 3 * (8192 + 200 + 300) + 3 * 4096, storage.GetProperty("total_bytes").GetInt64());
        Assert.Equal((1, 1), (usage.GetProperty("jobs").GetProperty("running").GetInt32(), usage.GetProperty("jobs").GetProperty("queued").GetInt32()));
        Assert.Equal(7, usage.GetProperty("quotas").GetProperty("queued_jobs").GetInt32());
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("quotas").GetProperty("storage_bytes").ValueKind);
    }

    [Fact]
    public async Task Creating_a_job_past_the_queued_or_running_jobs_quota_is_a_429_naming_it()
    {
        var (tenant, client, host) = await TenantWithQuotasAsync(("QueuedJobs", "1"), ("RunningJobs", "1"));
        using var _ = host;
        var model = await Seed.ModelAsync(factory.Database);
        var train = await Seed.DatasetAsync(factory.Database, tenant, "messages");
        var request = new { base_model = model.Name, training_dataset = train.Id, hyperparameters = new { max_steps = 5 } };

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/jobs", request)).StatusCode);
        await AssertQuotaProblemAsync(await client.PostAsJsonAsync("/api/v1/jobs", request), HttpStatusCode.TooManyRequests, "queued_jobs", 1);

        await using (var db = factory.Database.CreateContext())
        {
            var queued = db.Jobs.Single(j => j.TenantId == tenant);
            queued.Claim("w", TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow);
            await db.SaveChangesAsync();
        }
        await AssertQuotaProblemAsync(await client.PostAsJsonAsync("/api/v1/jobs", request), HttpStatusCode.TooManyRequests, "running_jobs", 1);
    }

    [Fact]
    public async Task An_upload_past_the_storage_quota_is_a_413_naming_it_and_stores_nothing()
    {
        var (tenant, client, host) = await TenantWithQuotasAsync(("StorageBytes", "150"));
        using var _ = host;
        await Seed.DatasetAsync(factory.Database, tenant);

        static MultipartFormDataContent Form(string jsonl) => new() { { new ByteArrayContent(Encoding.UTF8.GetBytes(jsonl)), "file", "data.jsonl" } };
        var big = string.Concat(Enumerable.Repeat("{\"text\":\"a line of text\"}\n", 5));
        await AssertQuotaProblemAsync(await client.PostAsync("/api/v1/datasets", Form(big)), HttpStatusCode.RequestEntityTooLarge, "storage_bytes", 150);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/api/v1/datasets", Form("{\"text\":\"hi\"}\n"))).StatusCode);

        var usage = await client.GetFromJsonAsync<JsonElement>("/api/v1/me/usage");
        Assert.Equal(100 + 14, usage.GetProperty("storage").GetProperty("datasets_bytes").GetInt64());
        Assert.False(Directory.EnumerateFiles(Path.Combine(factory.ArtifactsPath, "datasets"), "*.tmp", SearchOption.AllDirectories).Any());
    }
}
