using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

public sealed class HostTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Ready_means_migrated_and_database_reachable()
    {
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        await using var db = factory.Database.CreateContext();
        Assert.Contains(db.ApiKeys, k => k.IsAdmin);
    }

    [Fact]
    public async Task Swagger_ui_and_document_are_served_with_bearer_auth()
    {
        var client = factory.CreateClient();
        var ui = await client.GetStringAsync("/swagger/index.html");
        Assert.Contains("swagger-ui", ui);
        var document = await client.GetStringAsync("/swagger/v1/swagger.json");
        Assert.Contains("\"/api/v1/me\"", document);
        Assert.Contains("\"bearer\"", document);
        Assert.Contains("\"example\"", document);
        Assert.Contains("tiny-llama", document);

        // The job spec's fields carry their documentation (defaults included) from Contracts.
        using var json = System.Text.Json.JsonDocument.Parse(document);
        var spec = json.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("JobSpec").GetProperty("properties");
        foreach (var field in new[] { "keep_checkpoints", "export_merged", "max_wall_time", "metadata", "max_attempts" })
            Assert.False(string.IsNullOrWhiteSpace(spec.GetProperty(field).GetProperty("description").GetString()), field);
        Assert.Contains("2e-4", spec.GetProperty("hyperparameters").ToString() + json.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("Hyperparameters"));
    }

    [Fact]
    public async Task Hangfire_dashboard_needs_an_admin_key_and_hides_the_connection_string()
    {
        var anonymous = factory.CreateClient();
        var refused = await anonymous.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("Basic", refused.Headers.WwwAuthenticate.ToString());

        var browser = factory.CreateClient();
        browser.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + TestKeys.Admin)));
        var page = await browser.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("LoraService queue", html);
        Assert.DoesNotContain(factory.Database.Name, html);
    }

    [Fact]
    public async Task Dashboard_is_served_without_a_key_while_the_api_still_needs_one()
    {
        var anonymous = factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var index = await anonymous.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        Assert.Contains("app.js", await index.Content.ReadAsStringAsync());
        var script = await anonymous.GetAsync("/dashboard/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Redirect, (await anonymous.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/me")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/dashboard-nothing")).StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_answer_problem_details()
    {
        var response = await factory.CreateClient(TestKeys.Admin).GetAsync("/api/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
