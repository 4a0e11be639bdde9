using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Study;

/// <summary>The few REST calls the study makes, as any client of the service would.</summary>
sealed class ServiceClient(string apiUrl, string apiKey) : IDisposable
{
    private readonly HttpClient http = new()
    {
        BaseAddress = new Uri(apiUrl.TrimEnd('/') + "/"),
        Timeout = TimeSpan.FromMinutes(2),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", apiKey) },
    };

    public void Dispose() => http.Dispose();

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response, string what)
    {
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{what}: HTTP {(int)response.StatusCode} {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<JsonElement> GetAsync(string path) => await ReadAsync(await http.GetAsync(path), "GET " + path);

    public async Task<JsonElement> PostAsync(string path, object body) =>
        await ReadAsync(await http.PostAsJsonAsync(path, body), "POST " + path);

    public async Task<Guid> UploadAsync(string name, string file)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(name), "name");
        form.Add(new StreamContent(File.OpenRead(file)), "file", Path.GetFileName(file));
        return (await ReadAsync(await http.PostAsync("api/v1/datasets", form), "upload " + name)).GetProperty("id").GetGuid();
    }

    /// <summary>POST /models (a worker writes it), then polls GET /models/{name} until it is registered.</summary>
    public async Task<JsonElement> CreateModelAsync(object spec, string name)
    {
        await PostAsync("api/v1/models", spec);
        return await WaitForModelAsync(name, TimeSpan.FromMinutes(2));
    }

    public async Task<JsonElement> WaitForModelAsync(string name, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var response = await http.GetAsync($"api/v1/models/{name}");
            if (response.StatusCode != HttpStatusCode.NotFound) return await ReadAsync(response, "model " + name);
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"model {name} was not registered within {timeout}");
            await Task.Delay(500);
        }
    }

    public async Task<Guid> CreateJobAsync(JsonObject spec) => (await PostAsync("api/v1/jobs", spec)).GetProperty("id").GetGuid();

    /// <summary>Polls a job until it ends; prints its progress now and then. Throws unless it succeeded.</summary>
    public async Task<JsonElement> WaitForJobAsync(Guid id, string label, TextWriter log)
    {
        var lastStep = -1;
        while (true)
        {
            var job = await GetAsync($"api/v1/jobs/{id}");
            var status = job.GetProperty("status").GetString();
            var progress = job.GetProperty("progress");
            var step = progress.GetProperty("step").GetInt32();
            if (step != lastStep && step % 20 == 0)
            {
                log.WriteLine($"  {label}: {status} step {step}/{progress.GetProperty("total_steps")}");
                lastStep = step;
            }
            if (status == "succeeded") return job;
            if (status is "failed" or "cancelled") throw new InvalidOperationException($"{label} ({id}) ended {status}: {job.GetProperty("error")}");
            await Task.Delay(1000);
        }
    }

    /// <summary>The trainable-parameter count the engine logs when it sets up the method ("N trainable parameters (…)").</summary>
    public async Task<long?> TrainableParametersAsync(Guid job)
    {
        foreach (var e in (await GetAsync($"api/v1/jobs/{job}/events?limit=500")).EnumerateArray())
        {
            var message = e.GetProperty("message").GetString() ?? "";
            var at = message.IndexOf(" trainable parameters", StringComparison.Ordinal);
            if (at > 0 && long.TryParse(message[..at].Replace(",", ""), out var count)) return count;
        }
        return null;
    }
}
