using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Datasets.Samples;
using LoraService.TestSupport;

namespace LoraService.EndToEnd.Tests;

/// <summary>
/// The whole service for one test class: a fresh PostgreSQL database, the API and worker processes, a data folder with
/// the generated sample datasets. Timeouts are short so a killed worker's job is picked up within seconds.
/// </summary>
public sealed class Service : IAsyncLifetime
{
    private readonly List<HostProcess> _hosts = [];
    private PostgresDatabase _database = null!;

    public string DataPath { get; } = Directory.CreateTempSubdirectory("lora-e2e-").FullName;
    public string ModelsPath => Path.Combine(DataPath, "models");
    public string ArtifactsPath => Path.Combine(DataPath, "artifacts");
    public IReadOnlyDictionary<string, string> Samples { get; private set; } = new Dictionary<string, string>();
    public PostgresDatabase Database => _database;
    public HostProcess Api { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync(migrate: false);
        Samples = SampleDatasets.WriteAll(Path.Combine(DataPath, "samples"), trainRows: 200, evalRows: 16);
        Api = await StartAsync("Api");
        Client = new HttpClient { BaseAddress = new Uri(Api.Url), Timeout = TimeSpan.FromMinutes(2) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestKeys.Admin);
    }

    public Task<HostProcess> StartWorkerAsync(string name) => StartAsync("Worker", new Dictionary<string, string> { ["Worker__Name"] = name });

    /// <summary>A worker with extra settings (e.g. a different lease or invisibility timeout).</summary>
    public Task<HostProcess> StartWorkerAsync(string name, IReadOnlyDictionary<string, string> extra) =>
        StartAsync("Worker", new Dictionary<string, string>(extra) { ["Worker__Name"] = name });

    /// <summary>Stops the API (SIGTERM) and starts a new one on the same port, so <see cref="Client"/> keeps working.</summary>
    public async Task RestartApiAsync()
    {
        var port = Api.Port;
        await Api.StopAsync(TimeSpan.FromSeconds(30));
        Api = await StartAsync("Api", port: port);
    }

    private async Task<HostProcess> StartAsync(string project, IReadOnlyDictionary<string, string>? extra = null, int? port = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = _database.ConnectionString,
            ["Auth__AdminKey"] = TestKeys.Admin,
            ["Lora__ModelsPath"] = ModelsPath,
            ["Lora__ArtifactsPath"] = ArtifactsPath,
            ["Worker__Device"] = "cpu",
            ["Worker__HeartbeatSeconds"] = "0.5",
            ["Worker__LeaseSeconds"] = "3",
            ["Worker__ReaperSeconds"] = "1",
            ["Hangfire__InvisibilityTimeoutSeconds"] = "6",
            // Webhook tests receive on loopback over http.
            ["Webhooks__AllowInsecureUrls"] = "true",
            ["Webhooks__AllowPrivateAddresses"] = "true",
            ["Serilog__MinimumLevel__Default"] = "Information",
            ["Serilog__MinimumLevel__Override__Microsoft"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>()) environment[key] = value;
        var host = await HostProcess.StartAsync(project, environment, port);
        _hosts.Add(host);
        return host;
    }

    public async Task<JsonElement> CreateModelAsync(string name, string architecture)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/models", new { name, architecture, hidden_size = 32, layers = 2, heads = 4, max_positions = 128 });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return await PollAsync(async () =>
        {
            var model = await Client.GetAsync($"/api/v1/models/{name}");
            return model.IsSuccessStatusCode ? await model.Content.ReadFromJsonAsync<JsonElement>() : (JsonElement?)null;
        }, TimeSpan.FromSeconds(60), $"model {name}");
    }

    /// <summary>A random Llama (created by a running worker) and the arithmetic sample sets: train, valid, target, source.</summary>
    public async Task<(Guid Train, Guid Valid, Guid Target, Guid Source)> PrepareArithmeticAsync(string model)
    {
        await CreateModelAsync(model, "llama");
        return (await UploadAsync("arith-train"), await UploadAsync("arith-valid"), await UploadAsync("arith-em"), await UploadAsync("source-mc"));
    }

    public async Task<Guid> UploadAsync(string sample)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(sample), "name");
        form.Add(new StreamContent(File.OpenRead(Samples[sample])), "file", sample + ".jsonl");
        var response = await Client.PostAsync("/api/v1/datasets", form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
    }

    public async Task<Guid> CreateJobAsync(object spec)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/jobs", spec);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
    }

    public Task<JsonElement> GetJobAsync(Guid id) => Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}");

    public async Task<JsonElement> WaitForJobAsync(Guid id, Func<JsonElement, bool> condition, TimeSpan timeout, string what) =>
        await PollAsync(async () =>
        {
            var job = await GetJobAsync(id);
            if (condition(job)) return job;
            var status = job.GetProperty("status").GetString();
            if (status is "failed" or "succeeded" or "cancelled" && !condition(job))
                throw new InvalidOperationException($"Job ended {status} while waiting for {what}: {job}\n{WorkerOutput()}");
            return (JsonElement?)null;
        }, timeout, what);

    public string WorkerOutput() => string.Join("\n---\n", _hosts.Skip(1).Select(h => h.Output[Math.Max(0, h.Output.Length - 6000)..]));

    private async Task<JsonElement> PollAsync(Func<Task<JsonElement?>> probe, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found) return found;
            await Task.Delay(250);
        }
        throw new TimeoutException($"Timed out waiting for {what}.\nAPI:\n{Api.Output[Math.Max(0, Api.Output.Length - 4000)..]}\nWorkers:\n{WorkerOutput()}");
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        foreach (var host in _hosts) await host.DisposeAsync();
        await _database.DisposeAsync();
        Directory.Delete(DataPath, recursive: true);
    }
}
