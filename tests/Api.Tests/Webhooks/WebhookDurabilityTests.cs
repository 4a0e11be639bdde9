using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Domain.Webhooks;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests.Webhooks;

/// <summary>Events outlive the API process, and an endpoint that keeps failing is switched off.</summary>
public sealed class WebhookDurabilityTests
{
    private sealed class Host(PostgresDatabase database, string data, IReadOnlyDictionary<string, string> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            ApiHostSettings.Apply(builder, database, data);
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
        }
    }

    [Fact]
    public async Task Events_written_while_no_API_runs_are_delivered_when_it_starts()
    {
        await using var database = await PostgresDatabase.CreateAsync(migrate: false);
        var data = Directory.CreateTempSubdirectory("lora-hooks-").FullName;
        await using var receiver = await WebhookReceiver.StartAsync();
        Guid tenant;
        string secret;
        await using (var first = new Host(database, data, WebhookHost.Loopback))
        {
            (tenant, var client) = await Tenants.NewAsync(first);
            (_, secret) = await Hooks.RegisterAsync(client, receiver.Url, WebhookEventTypes.Succeeded, WebhookEventTypes.Cancelled);
        }

        // No API, so no dispatcher: the job ends anyway (a worker, or the reaper of another host) and its events wait.
        var succeeded = await JobMoves.SucceededAsync(database, tenant);
        var cancelled = await JobMoves.QueuedAsync(database, tenant);
        await JobMoves.MoveAsync(database, cancelled.Id, j => j.MoveTo(Domain.Jobs.JobStatus.Cancelled, DateTimeOffset.UtcNow));
        await using (var db = database.CreateContext())
            Assert.Equal(3, await db.WebhookEvents.CountAsync(e => e.DispatchedAt == null)); // running, succeeded, cancelled
        await Task.Delay(300);
        Assert.Empty(receiver.Received);

        await using (var second = new Host(database, data, WebhookHost.Loopback))
        {
            second.CreateClient().Dispose();
            var got = await receiver.WaitForAsync(_ => true, count: 2);
            Assert.Contains(got, r => r.Body.Contains(WebhookEventTypes.Succeeded) && r.Body.Contains(succeeded.Id.ToString("N")));
            Assert.Contains(got, r => r.Body.Contains(WebhookEventTypes.Cancelled) && r.Body.Contains(cancelled.Id.ToString("N")));
            Assert.All(got, r => Assert.True(WebhookSignatureCheck.IsValid(secret, r)));
        }
        Directory.Delete(data, recursive: true);
    }

    [Fact]
    public async Task An_endpoint_failing_for_the_whole_window_is_disabled_with_a_notice_in_its_log()
    {
        await using var database = await PostgresDatabase.CreateAsync(migrate: false);
        var data = Directory.CreateTempSubdirectory("lora-hooks-").FullName;
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => Task.FromResult(500);
        var settings = new Dictionary<string, string>(WebhookHost.Loopback) { ["Webhooks:DisableAfterDays"] = (1.5 / 86400).ToString(System.Globalization.CultureInfo.InvariantCulture) };
        await using (var host = new Host(database, data, settings))
        {
            var (tenant, client) = await Tenants.NewAsync(host);
            var (id, _) = await Hooks.RegisterAsync(client, receiver.Url, WebhookEventTypes.Succeeded);
            await JobMoves.SucceededAsync(database, tenant);

            var log = await Hooks.WaitForLogAsync(client, id, l => l.EnumerateArray().Any(d => d.GetProperty("status").GetString() == "notice"), seconds: 30);
            var notice = log.EnumerateArray().Single(d => d.GetProperty("status").GetString() == "notice");
            Assert.Equal("webhook.endpoint_disabled", notice.GetProperty("event_type").GetString());
            Assert.Contains("Endpoint disabled", notice.GetProperty("last_error").GetString());
            var delivery = log.EnumerateArray().Single(d => d.GetProperty("status").GetString() != "notice");
            Assert.Equal("abandoned", delivery.GetProperty("status").GetString());
            Assert.True(delivery.GetProperty("attempts").GetInt32() >= 3);

            var endpoint = await client.GetFromJsonAsync<JsonElement>($"/api/v1/webhooks/{id}");
            Assert.False(endpoint.GetProperty("enabled").GetBoolean());
            Assert.Contains("failed since", endpoint.GetProperty("disabled_reason").GetString());

            // Disabled: a new event is not sent to it.
            var before = receiver.Received.Count;
            await JobMoves.SucceededAsync(database, tenant);
            await Task.Delay(600);
            Assert.Equal(before, receiver.Received.Count);
        }
        Directory.Delete(data, recursive: true);
    }
}
