using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net;
using System.Text.Json;
using LoraService.Domain.Webhooks;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests.Webhooks;

/// <summary>Registering endpoints on a host with the operator defaults: https only, public addresses only.</summary>
public sealed class WebhookEndpointsApiTests(DefaultWebhookHost host) : IClassFixture<DefaultWebhookHost>
{
    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
    }

    [Theory]
    [InlineData("http://10.0.0.1/x", "https")]
    [InlineData("https://10.0.0.1/x", "10.0.0.1")]
    [InlineData("https://169.254.169.254/latest/meta-data", "169.254.169.254")]
    [InlineData("https://[::1]/x", "::1")]
    [InlineData("https://[::ffff:192.168.1.1]/x", "192.168.1.1")]
    [InlineData("https://localhost/x", "localhost")]
    [InlineData("ftp://example.com/x", "https")]
    [InlineData("not a url", "https")]
    [InlineData("https://user:pw@example.com/x", "credentials")]
    public async Task An_unsafe_or_malformed_url_is_refused_naming_the_url_field(string url, string said)
    {
        var (_, client) = await Tenants.NewAsync(host);
        var errors = await ProblemAsync(await client.PostAsJsonAsync("/api/v1/webhooks", new { url, events = new[] { WebhookEventTypes.Succeeded } }));
        Assert.Contains(said, errors.GetProperty("url")[0].GetString());
        Assert.Empty(await client.GetFromJsonAsync<JsonElement[]>("/api/v1/webhooks") ?? []);
    }

    [Fact]
    public async Task Events_must_be_given_and_known()
    {
        var (_, client) = await Tenants.NewAsync(host);
        var empty = await ProblemAsync(await client.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://203.0.114.7/x", events = Array.Empty<string>() }));
        Assert.Contains("at least one", empty.GetProperty("events")[0].GetString());
        var missing = await ProblemAsync(await client.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://203.0.114.7/x" }));
        Assert.True(missing.TryGetProperty("events", out _));
        var unknown = await ProblemAsync(await client.PostAsJsonAsync("/api/v1/webhooks",
            new { url = "https://203.0.114.7/x", events = new[] { WebhookEventTypes.Succeeded, "fine_tuning.job.exploded" } }));
        Assert.Contains("fine_tuning.job.exploded", unknown.GetProperty("events[1]")[0].GetString());
    }

    [Fact]
    public async Task An_endpoint_is_listed_without_its_secret_and_is_invisible_to_other_tenants()
    {
        var (_, mine) = await Tenants.NewAsync(host);
        var (_, theirs) = await Tenants.NewAsync(host);
        // A public address literal: nothing listens there, and nothing is sent without an event.
        var (id, secret) = await Hooks.RegisterAsync(mine, "https://203.0.114.7/hook", WebhookEventTypes.Succeeded, WebhookEventTypes.Evaluated);
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);

        var listed = await mine.GetStringAsync("/api/v1/webhooks");
        Assert.Contains(id.ToString(), listed);
        Assert.DoesNotContain(secret, listed);
        Assert.DoesNotContain("secret", await mine.GetStringAsync($"/api/v1/webhooks/{id}"));

        Assert.Equal(HttpStatusCode.NotFound, (await theirs.GetAsync($"/api/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await theirs.GetAsync($"/api/v1/webhooks/{id}/deliveries")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await theirs.PostAsync($"/api/v1/webhooks/{id}/rotate-secret", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await theirs.DeleteAsync($"/api/v1/webhooks/{id}")).StatusCode);
        Assert.DoesNotContain(id.ToString(), await theirs.GetStringAsync("/api/v1/webhooks"));

        Assert.Equal(HttpStatusCode.NoContent, (await mine.DeleteAsync($"/api/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await mine.GetAsync($"/api/v1/webhooks/{id}")).StatusCode);
    }

    [Fact]
    public async Task A_name_that_resolves_to_loopback_is_refused_when_connecting_not_only_at_registration()
    {
        // As if the name resolved to a public address when it was registered and to loopback now (DNS rebinding):
        // the row is written directly, since registration refuses it today.
        var (tenant, client) = await Tenants.NewAsync(host);
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var endpoint = new WebhookEndpoint { TenantId = tenant, Url = $"https://localhost:{port}/hook", Events = [WebhookEventTypes.Succeeded], Secret = WebhookEndpoint.NewSecret() };
        await using (var db = host.Database.CreateContext())
        {
            db.WebhookEndpoints.Add(endpoint);
            await db.SaveChangesAsync();
        }

        await JobMoves.SucceededAsync(host.Database, tenant);

        var log = await Hooks.WaitForLogAsync(client, endpoint.Id, l => l.GetArrayLength() == 1 && l[0].GetProperty("attempts").GetInt32() >= 1);
        Assert.Contains("not a public address", log[0].GetProperty("last_error").GetString());
        Assert.Equal(JsonValueKind.Null, log[0].GetProperty("last_status_code").ValueKind);
        Assert.False(listener.Pending(), "the dispatcher connected to loopback");
    }
}
