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
    [InlineData("{\"base_model\": ", "Path: $.base_model | LineNumber: 0 | BytePositionInLine: 15")]
    [InlineData("[1, 2]", "Path: $ | LineNumber: 0 | BytePositionInLine: 1")]
    [InlineData("null", "Send the request as a JSON object (not null, not empty)")]
    [InlineData("", "Send the request as a JSON object (not null, not empty)")]
    public async Task Unreadable_or_missing_json_is_a_400_saying_where_it_broke(string body, string where)
    {
        var response = await PostJobAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(where, System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("{\"base_model\": \"m\", \"method\": \"qlora\"}", "method", "method must be one of lora, full.")]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"rank\": \"sixteen\"}}", "lora.rank", "rank must be a whole JSON number.")]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"rank\": \"8\"}}", "lora.rank", "rank must be a whole JSON number.")]
    [InlineData("{\"base_model\": \"m\", \"hyperparameters\": {\"learning_rate\": \"NaN\"}}", "hyperparameters.learning_rate", "learning_rate must be a finite JSON number (not a string).")]
    [InlineData("{\"base_model\": \"m\", \"lora\": {\"alpha\": \"Infinity\"}}", "lora.alpha", "alpha must be a finite JSON number (not a string).")]
    [InlineData("{\"base_model\": \"m\", \"hyperparameters\": {\"schedule\": \"exponential\"}}", "hyperparameters.schedule", "schedule must be one of constant, linear, cosine.")]
    [InlineData("{\"base_model\": \"m\", \"max_wall_time\": \"2 hours\"}", "max_wall_time", "max_wall_time must be a duration \"hh:mm:ss\" (or \"d.hh:mm:ss\").")]
    public async Task A_value_of_the_wrong_type_is_a_422_naming_the_field_and_what_it_takes(string body, string field, string message)
    {
        var response = await PostJobAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var errors = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.Equal([message], errors.GetProperty(field).EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task A_number_too_large_for_a_double_is_a_422_naming_the_field()
    {
        // 1e999 is valid JSON that reads as +∞; the range checks alone would let it (and NaN) through.
        var response = await PostJobAsync("{\"base_model\": \"m\", \"hyperparameters\": {\"learning_rate\": 1e999}}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var errors = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.Contains("learning_rate must be a finite number.", errors.GetProperty("hyperparameters.learning_rate").EnumerateArray().Select(m => m.GetString()));
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
