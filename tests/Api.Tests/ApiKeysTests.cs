using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

public sealed class ApiKeysTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private HttpClient Admin => factory.CreateClient(TestKeys.Admin);

    private async Task<(Guid Tenant, Guid KeyId, string Key)> IssueAsync(object? body = null)
    {
        var (tenant, _) = await Seed.OtherTenantAsync(factory);
        var response = await Admin.PostAsJsonAsync($"/api/v1/tenants/{tenant}/keys", body ?? new { name = "ci" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var issued = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (tenant, issued.GetProperty("key_id").GetGuid(), issued.GetProperty("key").GetString()!);
    }

    [Fact]
    public async Task A_revoked_key_answers_401_within_a_second_on_every_api_instance()
    {
        var (tenant, keyId, key) = await IssueAsync();
        using var second = factory.WithWebHostBuilder(_ => { });
        var first = factory.CreateClient(key);
        var other = second.CreateClient(key);
        // Both instances have verified the key and cache it (for longer than a second).
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/api/v1/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/api/v1/me")).StatusCode);

        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/tenants/{tenant}/keys/{keyId}")).StatusCode);
        foreach (var client in new[] { first, other })
        {
            while ((await client.GetAsync("/api/v1/me")).StatusCode != HttpStatusCode.Unauthorized)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), "the revoked key still worked after a second");
                await Task.Delay(20);
            }
        }
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/tenants/{tenant}/keys/{keyId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.DeleteAsync($"/api/v1/tenants/{tenant}/keys/{Guid.NewGuid()}")).StatusCode);
    }

    [Fact]
    public async Task The_list_shows_prefix_last_use_expiry_and_revocation_but_never_the_secret()
    {
        var expires = DateTimeOffset.UtcNow.AddDays(30);
        var (tenant, keyId, key) = await IssueAsync(new { name = "deploy", expires_at = expires });
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient(key).GetAsync("/api/v1/me")).StatusCode);

        var list = await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/tenants/{tenant}/keys");

        var listed = list.EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == keyId);
        Assert.Equal("deploy", listed.GetProperty("name").GetString());
        Assert.StartsWith($"lsk_{listed.GetProperty("prefix").GetString()}_", key);
        Assert.InRange(listed.GetProperty("last_used_at").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(expires.ToUnixTimeSeconds(), listed.GetProperty("expires_at").GetDateTimeOffset().ToUnixTimeSeconds());
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("revoked_at").ValueKind);
        Assert.DoesNotContain(key.Split('_')[2], list.GetRawText());
        Assert.Contains(list.EnumerateArray(), k => k.GetProperty("name").GetString() == "default");
    }

    [Fact]
    public async Task An_expired_key_answers_401_and_a_past_expiry_is_refused()
    {
        var (tenant, _, key) = await IssueAsync(new { expires_at = DateTimeOffset.UtcNow.AddSeconds(2) });
        var client = factory.CreateClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/me")).StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/me")).StatusCode);

        var past = await Admin.PostAsJsonAsync($"/api/v1/tenants/{tenant}/keys", new { expires_at = DateTimeOffset.UtcNow.AddMinutes(-1) });
        Assert.Equal(HttpStatusCode.BadRequest, past.StatusCode);
        Assert.Equal("application/problem+json", past.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_duplicate_tenant_name_is_a_409_problem()
    {
        var name = "dup-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync("/api/v1/tenants", new { name })).StatusCode);

        var again = await Admin.PostAsJsonAsync("/api/v1/tenants", new { name });

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType?.MediaType);
        Assert.Contains(name, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }
}
