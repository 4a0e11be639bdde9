using System.Net;
using System.Text;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

/// <summary>Bad input never gets a 500: broken JSON and wrong types are problem details that say what was wrong.</summary>
public sealed class MalformedRequestTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("{\"base_model\": ", "")]
    [InlineData("{\"base_model\": \"m\", \"method\": \"qlora\"}", "method")]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"rank\": \"sixteen\"}}", "rank")]
    [InlineData("[1, 2]", "")]
    public async Task Broken_job_bodies_are_400_problem_details(string body, string mentions)
    {
        var response = await factory.CreateClient(TestKeys.Admin).PostAsync("/api/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(mentions, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_non_multipart_upload_is_415()
    {
        var response = await factory.CreateClient(TestKeys.Admin).PostAsync("/api/v1/datasets", new StringContent("{\"text\": \"a\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task A_malformed_guid_in_the_route_is_404_not_500()
    {
        var response = await factory.CreateClient(TestKeys.Admin).GetAsync("/api/v1/jobs/not-a-guid");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
