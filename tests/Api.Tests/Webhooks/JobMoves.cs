using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests.Webhooks;

/// <summary>Moves jobs through the lifecycle on the Domain, as the worker and the API do (each move one SaveChanges).</summary>
internal static class JobMoves
{
    public static async Task<FineTuneJob> QueuedAsync(PostgresDatabase database, Guid tenantId, int? maxAttempts = null)
    {
        await using var db = database.CreateContext();
        var job = new FineTuneJob { TenantId = tenantId, Spec = new JobSpec { BaseModel = "tiny", TrainingDataset = Guid.NewGuid().ToString(), MaxAttempts = maxAttempts } };
        db.Jobs.Add(job);
        await db.SaveChangesAsync();
        return job;
    }

    public static async Task MoveAsync(PostgresDatabase database, Guid jobId, Action<FineTuneJob> move)
    {
        await using var db = database.CreateContext();
        var job = await db.Jobs.SingleAsync(j => j.Id == jobId);
        move(job);
        await db.SaveChangesAsync();
    }

    public static Task ClaimAsync(PostgresDatabase database, Guid jobId, TimeSpan? lease = null) =>
        MoveAsync(database, jobId, j => j.Claim("test-worker", lease ?? TimeSpan.FromMinutes(5), DateTimeOffset.UtcNow));

    public static async Task<FineTuneJob> SucceededAsync(PostgresDatabase database, Guid tenantId)
    {
        var job = await QueuedAsync(database, tenantId);
        await ClaimAsync(database, job.Id);
        await MoveAsync(database, job.Id, j => j.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow));
        return job;
    }
}

/// <summary>Webhook API calls the tests make.</summary>
internal static class Hooks
{
    public static async Task<(Guid Id, string Secret)> RegisterAsync(HttpClient client, string url, params string[] events)
    {
        var response = await client.PostAsJsonAsync("/api/v1/webhooks", new { url, events, description = "test receiver" });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("id").GetGuid(), body.GetProperty("secret").GetString()!);
    }

    public static async Task<JsonElement> DeliveriesAsync(HttpClient client, Guid endpointId) =>
        (await client.GetFromJsonAsync<JsonElement>($"/api/v1/webhooks/{endpointId}/deliveries")).GetProperty("data");

    /// <summary>Polls the delivery log until <paramref name="done"/> holds for it.</summary>
    public static async Task<JsonElement> WaitForLogAsync(HttpClient client, Guid endpointId, Func<JsonElement, bool> done, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var log = await DeliveriesAsync(client, endpointId);
            if (done(log)) return log;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The delivery log never got there: " + log);
            await Task.Delay(50);
        }
    }
}

/// <summary>A fresh tenant per test, so one test's endpoints never receive another's events.</summary>
internal static class Tenants
{
    public static async Task<(Guid Id, HttpClient Client)> NewAsync(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> host)
    {
        var admin = host.CreateClient(TestKeys.Admin);
        var response = await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "hooks-" + Guid.NewGuid().ToString("N")[..8] });
        response.EnsureSuccessStatusCode();
        var issued = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (issued.GetProperty("tenant_id").GetGuid(), host.CreateClient(issued.GetProperty("key").GetString()!));
    }
}
