using System.Net;
using System.Net.Http.Json;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

public sealed class IdentityTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private sealed record Me(Guid TenantId, string TenantName, Guid KeyId, bool IsAdmin);

    private sealed record Issued(Guid TenantId, Guid KeyId, string Key);

    [Theory]
    [InlineData(null)]
    [InlineData("lsk_a11ce5e5_wrong-secret-0123456789")]
    [InlineData("not-a-key")]
    public async Task Requests_without_a_valid_key_are_refused(string? key)
    {
        var client = key is null ? factory.CreateClient() : factory.CreateClient(key);
        var response = await client.GetAsync("/api/v1/me");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task An_admin_creates_a_tenant_whose_key_works_but_is_not_admin()
    {
        var admin = factory.CreateClient(TestKeys.Admin);
        Assert.True((await admin.GetFromJsonAsync<Me>("/api/v1/me", ApiJson.Options))!.IsAdmin);

        var created = await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "team-" + Guid.NewGuid().ToString("N")[..8] });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var issued = (await created.Content.ReadFromJsonAsync<Issued>(ApiJson.Options))!;

        var tenant = factory.CreateClient(issued.Key);
        var me = (await tenant.GetFromJsonAsync<Me>("/api/v1/me", ApiJson.Options))!;
        Assert.Equal((issued.TenantId, false), (me.TenantId, me.IsAdmin));
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.PostAsJsonAsync("/api/v1/tenants", new { name = "x" })).StatusCode);

        await using var db = factory.Database.CreateContext();
        var stored = db.ApiKeys.Single(k => k.Id == issued.KeyId);
        Assert.DoesNotContain(issued.Key, stored.Hash);
        Assert.Equal(64, stored.Hash.Length);
    }

    [Fact]
    public async Task A_blank_tenant_name_is_a_validation_problem()
    {
        var response = await factory.CreateClient(TestKeys.Admin).PostAsJsonAsync("/api/v1/tenants", new { name = " " });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"name\"", await response.Content.ReadAsStringAsync());
    }
}
