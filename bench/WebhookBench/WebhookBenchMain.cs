// Webhook delivery benchmark: the real API host (in process, its real dispatcher) on a real PostgreSQL database,
// delivering over loopback HTTP to a Kestrel receiver. Prints JSON lines and a summary; see docs/benchmarks.md.
//   source /tmp/pgenv   # or export LORA_TEST_POSTGRES="Host=...;Port=...;Username=..."
//   dotnet run -c Release --project bench/WebhookBench [-- --jobs 20 --endpoints 100 --events 10000]
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Webhooks;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LoraService.WebhookBench;

internal static class WebhookBenchMain
{
    public static async Task Main(string[] args)
    {
        // WebApplicationFactory finds the API's content root through this outside a test project.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_LORASERVICE_API",
            Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../src/Api")));
        var jobs = Arg("--jobs", 20);
        var endpointCount = Arg("--endpoints", 100);
        var eventCount = Arg("--events", 10_000);

        await using var database = await PostgresDatabase.CreateAsync(migrate: false);
        var data = Directory.CreateTempSubdirectory("lora-webhook-bench-").FullName;
        await using var receiver = await BenchReceiver.StartAsync();
        await using var host = new BenchHost(database, data);
        var admin = host.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestKeys.Admin);

        // 1. Latency: a job reaches succeeded; 100 endpoints are subscribed. From the commit of the job's end to each arrival.
        var (latencyTenant, latencyClient) = await TenantAsync();
        for (var i = 0; i < endpointCount; i++) await RegisterAsync(latencyClient, receiver.Url(i), WebhookEventTypes.Succeeded);
        var latencies = new List<double>();
        for (var j = 0; j < jobs + 2; j++)
        {
            var job = await RunningJobAsync(latencyTenant);
            await using var db = database.CreateContext();
            var row = db.Jobs.Single(x => x.Id == job);
            row.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
            await db.SaveChangesAsync();
            var committed = Stopwatch.GetTimestamp();
            var eventId = "evt_" + db.WebhookEvents.Single(e => e.JobId == job && e.Type == WebhookEventTypes.Succeeded).Id.ToString("N");
            var arrived = await WaitAsync(() => Enumerable.Range(0, endpointCount).All(n => receiver.Arrivals.ContainsKey((n, eventId))), TimeSpan.FromSeconds(60));
            if (!arrived) throw new TimeoutException($"job {j}: not every endpoint got {eventId}");
            // The first two jobs warm up connections and JIT; they are not counted.
            if (j >= 2) latencies.AddRange(Enumerable.Range(0, endpointCount).Select(n => Stopwatch.GetElapsedTime(committed, receiver.Arrivals[(n, eventId)]).TotalMilliseconds));
            await Task.Delay(200);
        }
        latencies.Sort();
        double Pct(double p) => latencies[(int)Math.Min(latencies.Count - 1, Math.Ceiling(p / 100 * latencies.Count) - 1)];
        Print(new { bench = "webhook_latency", endpoints = endpointCount, jobs, deliveries = latencies.Count, p50_ms = Pct(50), p95_ms = Pct(95), p99_ms = Pct(99), max_ms = latencies[^1] });

        // 2. Drain: 10,000 events committed at once for one endpoint; from the commit to the last arrival.
        var (drainTenant, drainClient) = await TenantAsync();
        await RegisterAsync(drainClient, receiver.Url(100_000), WebhookEventTypes.Evaluated);
        var drainJob = await RunningJobAsync(drainTenant);
        await using (var db = database.CreateContext())
        {
            var job = db.Jobs.Single(x => x.Id == drainJob);
            db.WebhookEvents.AddRange(Enumerable.Range(1, eventCount).Select(step => WebhookOutbox.For(job, WebhookEventTypes.Evaluated, $"{{\"step\": {step}}}")));
            await db.SaveChangesAsync();
        }
        var drainStart = Stopwatch.GetTimestamp();
        if (!await WaitAsync(() => receiver.Arrivals.Keys.Count(k => k.Endpoint == 100_000) >= eventCount, TimeSpan.FromMinutes(10)))
            throw new TimeoutException("the queue did not drain within 10 minutes");
        var drainSeconds = Stopwatch.GetElapsedTime(drainStart).TotalSeconds;
        Print(new { bench = "webhook_drain", events = eventCount, seconds = Math.Round(drainSeconds, 2), deliveries_per_s = Math.Round(eventCount / drainSeconds, 1) });

        // Reference, same receiver, same run: signed POSTs from a plain HttpClient with the dispatcher's concurrency (64), no database.
        using var plain = new HttpClient();
        var body = "{\"id\":\"evt_x\",\"type\":\"job.evaluated\",\"data\":{}}";
        var counter = 0;
        var refStart = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, eventCount), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, receiver.Url(200_000)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("webhook-id", "ref_" + i);
            using var response = await plain.SendAsync(request, ct);
            Interlocked.Increment(ref counter);
        });
        var refSeconds = Stopwatch.GetElapsedTime(refStart).TotalSeconds;
        Print(new { bench = "plain_http_reference", requests = counter, seconds = Math.Round(refSeconds, 2), requests_per_s = Math.Round(counter / refSeconds, 1),
            dispatcher_vs_reference = Math.Round(eventCount / drainSeconds / (counter / refSeconds), 3) });

        Directory.Delete(data, recursive: true);


        int Arg(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        }

        static void Print(object result) => Console.WriteLine(JsonSerializer.Serialize(result));

        static async Task<bool> WaitAsync(Func<bool> done, TimeSpan timeout)
        {
            var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            while (!done())
            {
                if (Stopwatch.GetTimestamp() > deadline) return false;
                await Task.Delay(2);
            }
            return true;
        }

        async Task<(Guid, HttpClient)> TenantAsync()
        {
            var response = await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "bench-" + Guid.NewGuid().ToString("N")[..8] });
            var issued = await response.Content.ReadFromJsonAsync<JsonElement>();
            var client = host.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issued.GetProperty("key").GetString());
            return (issued.GetProperty("tenant_id").GetGuid(), client);
        }

        static async Task RegisterAsync(HttpClient client, string url, string type)
        {
            var response = await client.PostAsJsonAsync("/api/v1/webhooks", new { url, events = new[] { type } });
            response.EnsureSuccessStatusCode();
        }

        async Task<Guid> RunningJobAsync(Guid tenant)
        {
            await using var db = database.CreateContext();
            var job = new FineTuneJob { TenantId = tenant, Spec = new JobSpec { BaseModel = "tiny", TrainingDataset = Guid.NewGuid().ToString() } };
            job.Claim("bench-worker", TimeSpan.FromMinutes(30), DateTimeOffset.UtcNow);
            db.Jobs.Add(job);
            await db.SaveChangesAsync();
            return job.Id;
        }
    }
}

/// <summary>The API with the settings `./lora.sh up` uses for loopback receivers; everything else at its defaults.</summary>
internal sealed class BenchHost(PostgresDatabase database, string data) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ApiHostSettings.Apply(builder, database, data);
        builder.UseSetting("Webhooks:AllowInsecureUrls", "true");
        builder.UseSetting("Webhooks:AllowPrivateAddresses", "true");
    }
}
