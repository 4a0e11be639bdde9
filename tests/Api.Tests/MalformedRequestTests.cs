using System.Net;
using System.Text;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

/// <summary>Bad input never gets a 500: broken JSON and wrong types are problem details that say what was wrong.</summary>
public sealed class MalformedRequestTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private Task<HttpResponseMessage> PostJobAsync(string body) =>
        factory.CreateClient(TestKeys.Admin).PostAsync("/api/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

    [Theory]
    [InlineData("{\"base_model\": ", "Path: $.base_model |")]
    [InlineData("{\"base_model\": \"m\", \"method\": \"qlora\"}", "Path: $.method |")]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"rank\": \"sixteen\"}}", "Path: $.lora.rank |")]
    [InlineData("[1, 2]", "Path: $ |")]
    public async Task Broken_job_bodies_are_400_problem_details_naming_the_json_path(string body, string path)
    {
        var response = await PostJobAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(path, System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"rank\": \"8\"}}", "$.lora.rank")]
    [InlineData("{\"base_model\": \"m\", \"hyperparameters\": {\"learning_rate\": \"NaN\"}}", "$.hyperparameters.learning_rate")]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"alpha\": \"Infinity\"}}", "$.lora.alpha")]
    public async Task Numbers_must_be_json_numbers(string body, string path)
    {
        var response = await PostJobAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Contains(path, text);
    }

    [Fact]
    public async Task An_infinite_number_is_a_422_naming_the_field()
    {
        var response = await PostJobAsync("{\"base_model\": \"m\", \"hyperparameters\": {\"learning_rate\": 1e999}}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest, text);
        Assert.Contains("learning_rate", text);
    }

    [Theory]
    [InlineData("{\"base_model\": \"m\", \"hyperparameter\": {\"max_steps\": 10}}", "hyperparameter")]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"rnak\": 8}}", "lora.rnak")]
    public async Task An_unknown_field_is_a_422_naming_it(string body, string field)
    {
        var response = await PostJobAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var errors = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), text);
    }

    [Fact]
    public async Task A_json_body_over_the_limit_is_413_before_it_is_read()
    {
        var body = "{\"base_model\": \"m\", \"name\": \"" + new string('x', 5 << 20) + "\"}";
        var response = await PostJobAsync(body);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
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
