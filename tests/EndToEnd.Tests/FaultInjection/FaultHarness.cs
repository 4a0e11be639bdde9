using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace LoraService.EndToEnd.Tests.FaultInjection;

/// <summary>A worker the harness started, and whether the schedule meant it to die.</summary>
public sealed class WorkerSlot(string name, HostProcess host, string kind)
{
    public string Name { get; } = name;
    public HostProcess Host { get; } = host;
    public string Kind { get; } = kind;
    public string? Fault { get; set; }
    /// <summary>The worker's child processes when it was killed with SIGKILL: they must not outlive it for long.</summary>
    public IReadOnlyList<int> Orphans { get; set; } = [];
}

/// <summary>
/// Drives a <see cref="Service"/> through faults: workers killed, stopped and replaced, a worker with a short
/// invisibility timeout, API restarts, cancels at awkward moments. Every HTTP call survives an API restart.
/// </summary>
public sealed class FaultHarness(Service service, Action<string> log)
{
    /// <summary>The lease settings of the job-lifecycle contract, short for tests.</summary>
    public static readonly IReadOnlyDictionary<string, string> WorkerSettings = new Dictionary<string, string>
    {
        ["Worker__LeaseSeconds"] = "3",
        ["Worker__HeartbeatSeconds"] = "0.5",
        ["Worker__ReaperSeconds"] = "1",
        ["Worker__StopGraceSeconds"] = "20",
        // Far above the lease: a takeover must come from the lease, not from Hangfire re-fetching.
        ["Hangfire__InvisibilityTimeoutSeconds"] = "120",
    };

    public static readonly IReadOnlyDictionary<string, string> ShortInvisibilitySettings = new Dictionary<string, string>(WorkerSettings)
    {
        ["Hangfire__InvisibilityTimeoutSeconds"] = "2",
        ["Worker__LeaseSeconds"] = "5",
    };

    private readonly List<WorkerSlot> _workers = [];
    private readonly List<Task> _background = [];
    private readonly Lock _lock = new();
    private int _workerCount;

    public IReadOnlyList<WorkerSlot> Workers { get { lock (_lock) return [.. _workers]; } }
    public Dictionary<string, int> Injected { get; } = [];

    public void Count(string fault)
    {
        lock (_lock) Injected[fault] = Injected.GetValueOrDefault(fault) + 1;
    }

    public async Task<WorkerSlot> StartWorkerAsync(string kind = "normal")
    {
        var name = $"fi-{kind}-{Interlocked.Increment(ref _workerCount)}";
        var host = await service.StartWorkerAsync(name, kind == "short-invisibility" ? ShortInvisibilitySettings : WorkerSettings);
        var slot = new WorkerSlot(name, host, kind);
        lock (_lock) _workers.Add(slot);
        log($"started worker {name} (pid {host.Pid})");
        return slot;
    }

    /// <summary>Starts a worker in the background (a replacement), so the schedule does not wait for it.</summary>
    public void StartWorkerInBackground(string kind = "normal")
    {
        Interlocked.Increment(ref _starting);
        lock (_lock) _background.Add(Task.Run(async () =>
        {
            try { await StartWorkerAsync(kind); }
            finally { Interlocked.Decrement(ref _starting); }
        }));
    }

    private int _starting;

    /// <summary>Workers up and not meant to die, plus those still starting.</summary>
    public int LiveOrStarting => Workers.Count(w => w.Fault is null && !w.Host.HasExited) + Volatile.Read(ref _starting);

    public void Background(Func<Task> work)
    {
        lock (_lock) _background.Add(Task.Run(work));
    }

    public async Task DrainBackgroundAsync()
    {
        Task[] pending;
        lock (_lock) pending = [.. _background];
        await Task.WhenAll(pending);
    }

    public WorkerSlot? PickLiveWorker(Random random)
    {
        var live = Workers.Where(w => w.Fault is null && !w.Host.HasExited).ToList();
        return live.Count == 0 ? null : live[random.Next(live.Count)];
    }

    /// <summary>Retries an HTTP call while the API is restarting (connection refused), up to a minute.</summary>
    public static async Task<T> ThroughRestartsAsync<T>(Func<Task<T>> call)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await call();
            }
            catch (HttpRequestException) when (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100);
            }
        }
    }

    public async Task<Guid> CreateJobAsync(object spec)
    {
        var key = Guid.NewGuid().ToString();
        return await ThroughRestartsAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs") { Content = JsonContent.Create(spec) };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await service.Client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode >= 500) throw new HttpRequestException($"{(int)response.StatusCode}: {body}");
            // A concurrency conflict the API asks the client to retry ("The resource changed meanwhile"): the key makes it safe.
            if (response.StatusCode == System.Net.HttpStatusCode.Conflict && body.Contains("retry", StringComparison.OrdinalIgnoreCase))
            {
                Count("create-answered-409-retried");
                log($"POST /jobs answered 409 ({body}); retrying with the same Idempotency-Key");
                throw new HttpRequestException(body);
            }
            Assert.True(response.IsSuccessStatusCode, body);
            return JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
        });
    }

    public async Task<CancelAnswer> CancelAsync(TrackedJob job)
    {
        var answer = await ThroughRestartsAsync(async () =>
        {
            using var response = await service.Client.PostAsync($"/api/v1/jobs/{job.Id}/cancel", null);
            return new CancelAnswer((int)response.StatusCode, DateTimeOffset.UtcNow, await response.Content.ReadAsStringAsync());
        });
        lock (job.Cancels) job.Cancels.Add(answer);
        return answer;
    }

    /// <summary>Waits (raw SQL) until the job's first train/loss point exists or the job is over, then cancels it.</summary>
    public async Task CancelAfterFirstStepAsync(TrackedJob job, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(service.Database.ConnectionString);
        await connection.OpenAsync();
        while (clock.Elapsed < timeout)
        {
            await using var query = new NpgsqlCommand(
                "SELECT (SELECT count(*) FROM metric_points WHERE job_id = @id AND name = 'train/loss' AND step >= 1), (SELECT lower(status) FROM jobs WHERE id = @id)", connection);
            query.Parameters.AddWithValue("id", job.Id);
            await using var reader = await query.ExecuteReaderAsync();
            await reader.ReadAsync();
            var stepped = reader.GetInt64(0) > 0;
            var status = reader.IsDBNull(1) ? "" : reader.GetString(1);
            await reader.CloseAsync();
            if (stepped || status is "succeeded" or "failed" or "cancelled") break;
            await Task.Delay(20);
        }
        await CancelAsync(job);
    }
}
