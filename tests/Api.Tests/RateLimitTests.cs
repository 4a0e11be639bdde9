using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;

namespace LoraService.Api.Tests;

public sealed class RateLimitTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Each_api_key_has_its_own_window_per_route_group_and_a_429_says_when_to_retry()
    {
        var (_, otherKey) = await Seed.OtherTenantAsync(factory);
        using var host = factory.WithWebHostBuilder(b => b
            .UseSetting("RateLimits:Groups:me:PermitLimit", "2")
            .UseSetting("RateLimits:Groups:me:WindowSeconds", "60"));
        var admin = host.CreateClient(TestKeys.Admin);

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/me/usage")).StatusCode);
        var refused = await admin.GetAsync("/api/v1/me");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        Assert.Equal("me", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("group").GetString());
        // Another group of the same key, and the same group for another key, are counted apart.
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/datasets")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.CreateClient(otherKey).GetAsync("/api/v1/me")).StatusCode);
    }

    [Fact]
    public async Task The_default_limits_are_on_and_an_open_dashboard_stays_far_under_them()
    {
        var defaults = new RateLimits.RateLimitOptions();
        var perMinute = defaults.For("jobs").PermitLimit!.Value * 60 / defaults.For("jobs").WindowSeconds!.Value;
        Assert.True(perMinute >= 10 * RateLimits.RateLimitOptions.DashboardRequestsPerMinute, $"{perMinute} a minute");

        // Two minutes of one dashboard's polling in a burst, on the default limits: nothing refused.
        var (_, key) = await Seed.OtherTenantAsync(factory);
        var client = factory.CreateClient(key);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 2 * RateLimits.RateLimitOptions.DashboardRequestsPerMinute; i++)
            statuses.Add((await client.GetAsync("/api/v1/jobs?limit=1")).StatusCode);
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
    }
}
