using System.Net.Http.Json;
using System.Net;
using System.Text.Json;
using LoraService.Domain.Jobs;
using LoraService.Domain.Webhooks;
using LoraService.ServiceDefaults.Jobs;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LoraService.Api.Tests.Webhooks;

/// <summary>Deliveries from the real API host's dispatcher to a real receiver on loopback (allowed in this host's settings).</summary>
public sealed class WebhookDeliveryTests(LoopbackWebhookHost host) : IClassFixture<LoopbackWebhookHost>
{
    [Fact]
    public async Task A_job_that_runs_and_succeeds_is_delivered_signed_and_a_tampered_copy_fails_the_independent_check()
    {
        var (tenant, client) = await Tenants.NewAsync(host);
        await using var receiver = await WebhookReceiver.StartAsync();
        var (endpointId, secret) = await Hooks.RegisterAsync(client, receiver.Url, WebhookEventTypes.Running, WebhookEventTypes.Succeeded);
        Assert.Matches("^whsec_[A-Za-z0-9+/]{43}=$", secret);

        var job = await JobMoves.SucceededAsync(host.Database, tenant);

        var got = await receiver.WaitForAsync(_ => true, count: 2);
        var running = got.Single(r => r.Body.Contains("\"job.running\""));
        var succeeded = got.Single(r => r.Body.Contains("\"fine_tuning.job.succeeded\""));
        foreach (var r in got) Assert.True(WebhookSignatureCheck.IsValid(secret, r), "signature of " + r.Body);

        var payload = JsonDocument.Parse(succeeded.Body).RootElement;
        Assert.Equal(succeeded.Id, payload.GetProperty("id").GetString());
        Assert.Equal("fine_tuning.job.succeeded", payload.GetProperty("type").GetString());
        Assert.InRange(payload.GetProperty("created_at").GetInt64(), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var data = payload.GetProperty("data");
        Assert.Equal("fine_tuning.job", data.GetProperty("object").GetString());
        Assert.Equal("ftjob-" + job.Id.ToString("N"), data.GetProperty("id").GetString());
        Assert.Equal("succeeded", data.GetProperty("status").GetString());
        // The running event tells the status the job had then, though it has succeeded since.
        Assert.Equal("running", JsonDocument.Parse(running.Body).RootElement.GetProperty("data").GetProperty("status").GetString());

        // Tampering: another body, another timestamp, another secret.
        Assert.False(WebhookSignatureCheck.IsValid(secret, succeeded with { Body = succeeded.Body.Replace("succeeded", "failed") }));
        Assert.False(WebhookSignatureCheck.IsValid(secret, succeeded with { Timestamp = (long.Parse(succeeded.Timestamp) + 1).ToString() }));
        Assert.False(WebhookSignatureCheck.IsValid(WebhookEndpoint.NewSecret(), succeeded));
        Assert.False(WebhookSignatureCheck.IsValid(secret, running with { Id = succeeded.Id }));

        var log = await Hooks.WaitForLogAsync(client, endpointId, l => l.GetArrayLength() == 2 && l.EnumerateArray().All(d => d.GetProperty("status").GetString() == "succeeded"));
        var entry = log.EnumerateArray().Single(d => d.GetProperty("event_type").GetString() == WebhookEventTypes.Succeeded);
        Assert.Equal(succeeded.Id, entry.GetProperty("event_id").GetString());
        Assert.Equal(1, entry.GetProperty("attempts").GetInt32());
        Assert.Equal(200, entry.GetProperty("last_status_code").GetInt32());
        Assert.True(entry.GetProperty("last_latency_ms").GetInt32() >= 0);
        Assert.StartsWith("received ", entry.GetProperty("response_prefix").GetString());
    }

    [Fact]
    public async Task A_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_with_the_same_webhook_id()
    {
        var (tenant, client) = await Tenants.NewAsync(host);
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = n => Task.FromResult(n <= 2 ? 503 : 204);
        var (endpointId, secret) = await Hooks.RegisterAsync(client, receiver.Url, WebhookEventTypes.Succeeded);

        await JobMoves.SucceededAsync(host.Database, tenant);

        var got = await receiver.WaitForAsync(_ => true, count: 3);
        Assert.Single(got.Select(r => r.Id).Distinct());
        Assert.Single(got.Select(r => r.Body).Distinct());
        Assert.All(got, r => Assert.True(WebhookSignatureCheck.IsValid(secret, r)));
        // Backoff: each retry waited (0.2 s then 0.4 s, ±20%, capped at 0.5 s).
        Assert.True(got[1].At - got[0].At >= TimeSpan.FromMilliseconds(150), $"{got[1].At - got[0].At}");
        var log = await Hooks.WaitForLogAsync(client, endpointId, l => l[0].GetProperty("status").GetString() == "succeeded");
        Assert.Equal(3, log[0].GetProperty("attempts").GetInt32());
        Assert.Equal(204, log[0].GetProperty("last_status_code").GetInt32());
        await Task.Delay(500);
        Assert.Equal(3, receiver.Received.Count);
    }

    [Fact]
    public async Task A_receiver_killed_mid_delivery_gets_the_event_after_it_comes_back()
    {
        var (tenant, client) = await Tenants.NewAsync(host);
        var first = await WebhookReceiver.StartAsync();
        var hung = new TaskCompletionSource<int>();
        first.Respond = _ => hung.Task; // takes the request, never answers
        var (endpointId, secret) = await Hooks.RegisterAsync(client, first.Url, WebhookEventTypes.Failed);

        var job = await JobMoves.QueuedAsync(host.Database, tenant);
        await JobMoves.ClaimAsync(host.Database, job.Id);
        await JobMoves.MoveAsync(host.Database, job.Id, j => j.Fail("crashed", "test", DateTimeOffset.UtcNow));
        var cut = (await first.WaitForAsync(_ => true)).Single();
        await first.DisposeAsync(); // killed while the delivery waits for its answer
        hung.TrySetResult(500);

        // Down for a while: attempts fail to connect.
        await Hooks.WaitForLogAsync(client, endpointId, l => l[0].GetProperty("attempts").GetInt32() >= 2);
        await using var back = await WebhookReceiver.StartAsync(first.Port);
        var got = (await back.WaitForAsync(_ => true)).First();
        Assert.Equal(cut.Id, got.Id);
        Assert.True(WebhookSignatureCheck.IsValid(secret, got));
        Assert.Equal("fine_tuning.job.failed", JsonDocument.Parse(got.Body).RootElement.GetProperty("type").GetString());
        var log = await Hooks.WaitForLogAsync(client, endpointId, l => l[0].GetProperty("status").GetString() == "succeeded");
        Assert.True(log[0].GetProperty("attempts").GetInt32() >= 3);
    }

    [Fact]
    public async Task The_reapers_state_changes_write_outbox_rows_that_are_delivered()
    {
        var (tenant, client) = await Tenants.NewAsync(host);
        await using var receiver = await WebhookReceiver.StartAsync();
        await Hooks.RegisterAsync(client, receiver.Url, WebhookEventTypes.Failed, WebhookEventTypes.Cancelled);

        // One job lost its worker for the last allowed time (→ failed), one lost it while cancelling (→ cancelled).
        var lost = await JobMoves.QueuedAsync(host.Database, tenant, maxAttempts: 1);
        await JobMoves.ClaimAsync(host.Database, lost.Id, TimeSpan.FromMilliseconds(1));
        var cancelling = await JobMoves.QueuedAsync(host.Database, tenant);
        await JobMoves.ClaimAsync(host.Database, cancelling.Id, TimeSpan.FromMilliseconds(1));
        await JobMoves.MoveAsync(host.Database, cancelling.Id, j => j.MoveTo(JobStatus.Cancelling, DateTimeOffset.UtcNow));
        await Task.Delay(50);

        Assert.True(await host.Services.GetRequiredService<JobReaper>().ReapOnceAsync(CancellationToken.None) >= 2);

        await using (var db = host.Database.CreateContext())
        {
            var rows = await db.WebhookEvents.Where(e => e.JobId == lost.Id || e.JobId == cancelling.Id).ToListAsync();
            Assert.Contains(rows, e => e.JobId == lost.Id && e.Type == WebhookEventTypes.Failed && e.JobStatus == "Failed");
            Assert.Contains(rows, e => e.JobId == cancelling.Id && e.Type == WebhookEventTypes.Cancelled);
        }
        var got = await receiver.WaitForAsync(_ => true, count: 2);
        var failed = JsonDocument.Parse(got.Single(r => r.Body.Contains(lost.Id.ToString("N"))).Body).RootElement;
        Assert.Equal("fine_tuning.job.failed", failed.GetProperty("type").GetString());
        Assert.Equal("worker_lost", failed.GetProperty("data").GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(got, r => r.Body.Contains("fine_tuning.job.cancelled") && r.Body.Contains(cancelling.Id.ToString("N")));
    }

    [Fact]
    public async Task A_redelivery_sends_the_same_webhook_id_again_and_a_rotated_secret_signs_it()
    {
        var (tenant, client) = await Tenants.NewAsync(host);
        await using var receiver = await WebhookReceiver.StartAsync();
        var (endpointId, oldSecret) = await Hooks.RegisterAsync(client, receiver.Url, WebhookEventTypes.Succeeded);
        await JobMoves.SucceededAsync(host.Database, tenant);
        var first = (await receiver.WaitForAsync(_ => true)).Single();
        var log = await Hooks.WaitForLogAsync(client, endpointId, l => l[0].GetProperty("status").GetString() == "succeeded");

        var rotated = await client.PostAsync($"/api/v1/webhooks/{endpointId}/rotate-secret", null);
        var newSecret = (await rotated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
        Assert.NotEqual(oldSecret, newSecret);

        var redeliver = await client.PostAsync($"/api/v1/webhooks/{endpointId}/deliveries/{log[0].GetProperty("id").GetGuid()}/redeliver", null);
        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        var again = (await receiver.WaitForAsync(_ => true, count: 2))[1];
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(first.Body, again.Body);
        Assert.True(WebhookSignatureCheck.IsValid(newSecret, again));
        Assert.False(WebhookSignatureCheck.IsValid(oldSecret, again));
        await Hooks.WaitForLogAsync(client, endpointId, l => l.GetArrayLength() == 2 && l.EnumerateArray().All(d => d.GetProperty("status").GetString() == "succeeded"));
    }

    [Fact]
    public async Task Two_API_instances_share_the_deliveries_without_sending_one_twice()
    {
        using var second = host.WithWebHostBuilder(_ => { });
        second.CreateClient().Dispose();
        var (tenant, client) = await Tenants.NewAsync(host);
        await using var receiver = await WebhookReceiver.StartAsync();
        await Hooks.RegisterAsync(client, receiver.Url, WebhookEventTypes.Evaluated);
        var job = await JobMoves.QueuedAsync(host.Database, tenant);

        // 300 events committed at once: both dispatchers wake on the same NOTIFY and race for them.
        await using (var db = host.Database.CreateContext())
        {
            db.WebhookEvents.AddRange(Enumerable.Range(1, 300).Select(step => WebhookOutbox.For(job, WebhookEventTypes.Evaluated, $"{{\"step\": {step}}}")));
            await db.SaveChangesAsync();
        }

        await receiver.WaitForAsync(_ => true, count: 300, seconds: 60);
        await Task.Delay(1000);
        Assert.Equal(300, receiver.Received.Select(r => r.Id).Distinct().Count());
        Assert.Equal(300, receiver.Received.Count);
    }
}
