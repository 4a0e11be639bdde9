using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;

namespace LoraService.Api.Tests;

/// <summary>The counters are process-wide (one Meter per process, as in production): this class runs alone, after the
/// parallel ones, so no other test's uploads or jobs move them meanwhile.</summary>
[CollectionDefinition(nameof(PrometheusMetricsTests), DisableParallelization = true)]
public sealed class PrometheusMetricsCollection;

[Collection(nameof(PrometheusMetricsTests))]
public sealed class PrometheusMetricsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    /// <summary>The value of one series in a Prometheus text scrape (0 when absent).</summary>
    private static double Value(string scrape, string series)
    {
        var match = Regex.Match(scrape, "^" + Regex.Escape(series) + @"(?:\{[^}]*\})? ([0-9.eE+-]+)", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    private static double Labelled(string scrape, string name, string labels)
    {
        var match = Regex.Match(scrape, "^" + Regex.Escape(name) + @"\{[^}]*" + Regex.Escape(labels) + @"[^}]*\} ([0-9.eE+-]+)", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    [Fact]
    public async Task A_scrape_without_a_key_shows_uploads_validation_errors_jobs_by_status_and_request_durations_moving()
    {
        using var host = factory.WithWebHostBuilder(b => b.UseSetting("Metrics:JobsPollSeconds", "0.2"));
        var anonymous = host.CreateClient();
        var admin = host.CreateClient(TestKeys.Admin);
        async Task<string> ScrapeAsync()
        {
            var response = await anonymous.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }
        await Task.Delay(500);
        var before = await ScrapeAsync();

        var jsonl = "{\"text\":\"one\"}\n{\"text\":\"two\"}\n";
        MultipartFormDataContent Form(string content) => new() { { new ByteArrayContent(Encoding.UTF8.GetBytes(content)), "file", "data.jsonl" } };
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/api/v1/datasets", Form(jsonl))).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await admin.PostAsync("/api/v1/datasets", Form("{\"text\":1}\nnot json\n"))).StatusCode);
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var model = await Seed.ModelAsync(factory.Database);
        var train = await Seed.DatasetAsync(factory.Database, tenant, "messages");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/jobs", new { base_model = model.Name, training_dataset = train.Id })).StatusCode);
        await Task.Delay(1000);
        var after = await ScrapeAsync();

        Assert.Equal(Encoding.UTF8.GetByteCount(jsonl), Value(after, "lora_dataset_upload_bytes_total") - Value(before, "lora_dataset_upload_bytes_total"));
        Assert.Equal(2, Value(after, "lora_dataset_validation_errors_total") - Value(before, "lora_dataset_validation_errors_total"));
        Assert.Equal(1, Value(after, "lora_jobs_created_total") - Value(before, "lora_jobs_created_total"));
        Assert.Equal(1, Labelled(after, "lora_jobs", "status=\"queued\"") - Labelled(before, "lora_jobs", "status=\"queued\""));
        Assert.True(Labelled(after, "lora_queue_depth", "queue=\"cpu\"") >= 1, after);
        Assert.Contains("http_server_request_duration_seconds_bucket", after);
    }
}
