using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LoraService.EndToEnd.Tests;

/// <summary>Operating a real job: the worker's /metrics move, a success prunes checkpoints, archives zip on demand, DELETE frees it all.</summary>
public sealed class OperationsTests(Service service) : IClassFixture<Service>
{
    private static double Sum(string scrape, string name, string labels = "")
    {
        var matches = Regex.Matches(scrape, "^" + Regex.Escape(name) + @"(?:\{([^}]*)\})? ([0-9.eE+-]+)", RegexOptions.Multiline);
        return matches.Where(m => m.Groups[1].Value.Contains(labels, StringComparison.Ordinal))
            .Sum(m => double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static long FolderBytes(string path) =>
        Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;

    [Fact]
    public async Task A_real_job_moves_the_worker_metrics_keeps_no_checkpoints_zips_its_adapter_on_download_and_delete_frees_its_bytes()
    {
        var worker = await service.StartWorkerAsync("ops-worker");
        using var scraper = new HttpClient { BaseAddress = new Uri(worker.Url) };
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("ops-llama");
        var before = await scraper.GetStringAsync("/metrics");

        var id = await service.CreateJobAsync(JobSpecs.Lora("ops-llama", train, valid, target, source, steps: 8, checkpointEvery: 4));
        await service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), "the job to succeed");

        var after = await scraper.GetStringAsync("/metrics");
        Assert.Equal(8, Sum(after, "lora_train_steps_total", "worker=\"ops-worker\"") - Sum(before, "lora_train_steps_total", "worker=\"ops-worker\""));
        Assert.Equal(1, Sum(after, "lora_jobs_finished_total", "status=\"succeeded\"") - Sum(before, "lora_jobs_finished_total", "status=\"succeeded\""));
        Assert.Equal(1, Sum(after, "lora_job_duration_seconds_count", "status=\"succeeded\"") - Sum(before, "lora_job_duration_seconds_count", "status=\"succeeded\""));
        Assert.True(Sum(after, "lora_train_step_duration_seconds_count", "worker=\"ops-worker\"") >= 6, after);
        Assert.True(Sum(after, "lora_train_tokens_per_second", "worker=\"ops-worker\"") > 0, after);

        // Succeeded with keep_checkpoints 2 (the default): no checkpoint is left, on disk or listed.
        var work = Path.Combine(service.ArtifactsPath, "jobs", id.ToString("N"), "work");
        Assert.Equal(0, (await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/checkpoints")).GetArrayLength());
        Assert.Equal(0, FolderBytes(Path.Combine(work, "checkpoints")));

        var artifacts = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/artifacts");
        var archive = artifacts.EnumerateArray().Single(a => a.GetProperty("kind").GetString() == "adapter_archive");
        Assert.Equal(JsonValueKind.Null, archive.GetProperty("sha256").ValueKind);
        var zip = await service.Client.GetByteArrayAsync(archive.GetProperty("download_url").GetString());
        Assert.Equal(zip.Length, (await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/artifacts")).EnumerateArray()
            .Single(a => a.GetProperty("kind").GetString() == "adapter_archive").GetProperty("bytes").GetInt64());

        var jobFolder = Path.Combine(service.ArtifactsPath, "jobs", id.ToString("N"));
        Assert.True(FolderBytes(jobFolder) > zip.Length);
        Assert.Equal(HttpStatusCode.NoContent, (await service.Client.DeleteAsync($"/api/v1/jobs/{id}")).StatusCode);
        Assert.Equal(0, FolderBytes(jobFolder));
        Assert.False(Directory.Exists(jobFolder));
        Assert.Equal(HttpStatusCode.NotFound, (await service.Client.GetAsync($"/api/v1/jobs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await service.Client.DeleteAsync($"/api/v1/jobs/{id}")).StatusCode);
    }
}
