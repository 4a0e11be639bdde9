using System.Diagnostics;
using System.Net;
using System.Text.Json;
using LoraService.EndToEnd.Tests.FaultInjection;
using Npgsql;

namespace LoraService.EndToEnd.Tests;

/// <summary>
/// The job-lifecycle scenarios from the lease/fencing issue, each on its own: real processes, lease settings of the
/// contract (LeaseSeconds 3, HeartbeatSeconds 0.5, ReaperSeconds 1, StopGraceSeconds 20, invisibility 120 s).
/// </summary>
[Trait("Category", "Lifecycle")]
public sealed class LifecycleScenarioTests(Service service) : IClassFixture<Service>, IAsyncLifetime
{
    private const string Model = "scenario-llama";
    private readonly List<HostProcess> _workers = [];
    private readonly List<Guid> _jobs = [];
    private readonly List<int> _orphans = [];
    private Guid _train;

    public async Task InitializeAsync()
    {
        // The base model is written straight into the models folder: every worker registers it when it starts.
        var folder = Path.Combine(service.ModelsPath, Model);
        if (!Directory.Exists(folder))
            Training.Models.ModelFactory.WriteCheckpoint(folder, Training.Models.ModelFactory.TinyLlama(hidden: 32, layers: 2, heads: 4, kvHeads: 4, intermediate: 96), seed: 5);
        _train = await service.UploadAsync("arith-train");
    }

    public async Task DisposeAsync()
    {
        // Leave nothing running for the next scenario's workers to pick up.
        foreach (var id in _jobs)
        {
            try { using var _ = await service.Client.PostAsync($"/api/v1/jobs/{id}/cancel", null); }
            catch (HttpRequestException) { }
        }
        foreach (var worker in _workers) await worker.DisposeAsync();
        // Children of a SIGKILLed worker should have exited on their own; never leave one behind.
        foreach (var pid in _orphans) HostProcess.KillIfOurs(pid);
    }

    private async Task<HostProcess> StartWorkerAsync(string name, IReadOnlyDictionary<string, string>? settings = null)
    {
        var worker = await service.StartWorkerAsync(name, settings ?? FaultHarness.WorkerSettings);
        _workers.Add(worker);
        var clock = Stopwatch.StartNew();
        while (!(await service.Client.GetAsync($"/api/v1/models/{Model}")).IsSuccessStatusCode && clock.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(200);
        return worker;
    }

    private async Task<Guid> CreateAsync(object spec)
    {
        var id = await service.CreateJobAsync(spec);
        _jobs.Add(id);
        return id;
    }

    private object Spec(int steps, int checkpointEvery = 5, int? maxAttempts = null) => new
    {
        base_model = Model,
        method = "lora",
        training_dataset = _train,
        lora = new { rank = 4 },
        hyperparameters = new { learning_rate = 2e-3, max_steps = steps, batch_size = 8, micro_batch_size = 4, max_sequence_length = 32, seed = 11 },
        evaluation = new { every_n_steps = 0, max_examples = 4, max_new_tokens = 4 },
        checkpoint_every = checkpointEvery,
        max_attempts = maxAttempts,
    };

    private static string Status(JsonElement job) => job.GetProperty("status").GetString()!;
    private static int Step(JsonElement job) => job.GetProperty("progress").GetProperty("step").GetInt32();
    private static string Holder(JsonElement job) => job.TryGetProperty("worker_id", out var w) && w.ValueKind == JsonValueKind.String ? w.GetString()! : "";

    private Task<JsonElement> WaitAsync(Guid id, Func<JsonElement, bool> condition, int seconds, string what) =>
        service.WaitForJobAsync(id, condition, TimeSpan.FromSeconds(seconds), what);

    private async Task<List<(string Type, string Message)>> EventsAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(service.Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT type, message FROM job_events WHERE job_id = @id ORDER BY created_at, id", connection);
        query.Parameters.AddWithValue("id", id);
        var events = new List<(string, string)>();
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync()) events.Add((reader.GetString(0), reader.GetString(1)));
        return events;
    }

    private static string Describe(IEnumerable<(string Type, string Message)> events) => string.Join("\n", events.Select(e => $"  {e.Type}: {e.Message}"));

    [Fact]
    public async Task A_replacement_worker_with_a_short_invisibility_timeout_neither_strands_a_killed_job_nor_drops_a_healthy_one()
    {
        var doomed = await StartWorkerAsync("inv-doomed");
        var orphan = await CreateAsync(Spec(steps: 200, checkpointEvery: 50));
        var atDoomed = await WaitAsync(orphan, j => Status(j) == "running" && Step(j) >= 2, 120, "the first job running");
        Assert.StartsWith("inv-doomed", Holder(atDoomed));
        await StartWorkerAsync("inv-healthy");
        // Long enough that the short-invisibility worker, once it has finished the orphan, finds this job's queue entry
        // "abandoned" (fetched more than 2 s ago) while the healthy worker is still running it.
        var healthy = await CreateAsync(Spec(steps: 1200, checkpointEvery: 500));
        await WaitAsync(healthy, j => Status(j) == "running" && Step(j) >= 2 && Holder(j).StartsWith("inv-healthy", StringComparison.Ordinal), 120, "the second job running on the healthy worker");

        _orphans.AddRange(doomed.Crash());
        await StartWorkerAsync("inv-short", FaultHarness.ShortInvisibilitySettings);

        var rescued = await WaitAsync(orphan, j => Status(j) == "succeeded", 300, "the killed worker's job to finish elsewhere");
        var kept = await WaitAsync(healthy, j => Status(j) == "succeeded", 300, "the healthy worker's job to finish");
        Assert.True(rescued.GetProperty("attempt").GetInt32() >= 2, rescued.ToString());
        var keptEvents = await EventsAsync(healthy);
        Assert.True(kept.GetProperty("attempt").GetInt32() == 1 && Holder(kept).StartsWith("inv-healthy", StringComparison.Ordinal),
            $"the healthy worker's job was taken from it: {kept}\n{Describe(keptEvents)}");
    }

    [Fact]
    public async Task Takeover_after_kill_9_is_bounded_by_the_lease_not_the_invisibility_timeout()
    {
        var doomed = await StartWorkerAsync("lease-doomed");
        var id = await CreateAsync(Spec(steps: 1000, checkpointEvery: 20));
        await WaitAsync(id, j => Status(j) == "running" && Step(j) >= 2, 120, "the job running");
        await StartWorkerAsync("lease-rescuer");

        _orphans.AddRange(doomed.Crash());
        var clock = Stopwatch.StartNew();
        var resumed = await WaitAsync(id, j => Status(j) == "running" && Holder(j).StartsWith("lease-rescuer", StringComparison.Ordinal), 60, "the job running again on the rescuer");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"takeover took {clock.Elapsed.TotalSeconds:0.0} s with LeaseSeconds=3 (invisibility 120 s): {resumed}");
    }

    [Fact]
    public async Task A_cancel_within_milliseconds_of_creation_and_one_right_after_the_first_step_both_end_cancelled()
    {
        await StartWorkerAsync("cancel-worker");
        var early = await CreateAsync(Spec(steps: 150));
        var earlyAnswer = await service.Client.PostAsync($"/api/v1/jobs/{early}/cancel", null);

        var late = await CreateAsync(Spec(steps: 150));
        await using (var connection = new NpgsqlConnection(service.Database.ConnectionString))
        {
            await connection.OpenAsync();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromMinutes(2))
            {
                await using var query = new NpgsqlCommand("SELECT count(*) FROM metric_points WHERE job_id = @id AND name = 'train/loss'", connection);
                query.Parameters.AddWithValue("id", late);
                if ((long)(await query.ExecuteScalarAsync())! > 0) break;
                await Task.Delay(10);
            }
        }
        var lateAnswer = await service.Client.PostAsync($"/api/v1/jobs/{late}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, earlyAnswer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, lateAnswer.StatusCode);
        foreach (var id in new[] { early, late })
        {
            var job = await PollTerminalAsync(id, 60);
            Assert.True(Status(job) == "cancelled", $"{job}\n{Describe(await EventsAsync(id))}");
        }
    }

    [Fact]
    public async Task Sigterm_hands_the_job_back_and_says_so_not_cancelled()
    {
        var leaving = await StartWorkerAsync("term-leaving");
        var id = await CreateAsync(Spec(steps: 300, checkpointEvery: 1000));
        await WaitAsync(id, j => Status(j) == "running" && Step(j) >= 2, 120, "the job running");

        await leaving.StopAsync(TimeSpan.FromSeconds(40));
        var events = await EventsAsync(id);
        Assert.True(events.Any(e => e.Type == "handed_back"), $"no handed_back event:\n{Describe(events)}");
        Assert.DoesNotContain(events, e => e.Type == "cancelled");
        Assert.NotEqual("cancelled", Status(await service.GetJobAsync(id)));
    }

    [Fact]
    public async Task A_job_whose_worker_stopped_answering_shows_a_stale_holder_and_no_eta_until_it_moves()
    {
        var doomed = await StartWorkerAsync("stale-doomed");
        var id = await CreateAsync(Spec(steps: 3000, checkpointEvery: 500));
        await WaitAsync(id, j => Status(j) == "running" && Step(j) >= 2, 120, "the job running");
        // No other worker: the row says running until the lease (3 s) expires and the reaper re-queues the job; half the
        // lease without a renewal already shows the holder as stale.
        _orphans.AddRange(doomed.Crash());

        var job = await PollAsync(id, j => j.TryGetProperty("holder", out var h) && h.ValueKind == JsonValueKind.Object
            && h.TryGetProperty("stale", out var s) && s.ValueKind == JsonValueKind.True, 15);
        Assert.True(job is { } found && Status(found) == "running", $"holder.stale never became true while the job showed running: {job?.ToString() ?? (await service.GetJobAsync(id)).ToString()}");
        var progress = job!.Value.GetProperty("progress");
        Assert.True(progress.TryGetProperty("eta_seconds", out var eta) && eta.ValueKind == JsonValueKind.Null, $"progress.eta_seconds should be null: {job}");
    }

    [Fact]
    public async Task Retry_of_a_failed_job_resumes_from_its_last_checkpoint_as_a_new_attempt_and_a_succeeded_job_answers_409()
    {
        // max_attempts 1: the first lost attempt fails the job instead of resuming it.
        var doomed = await StartWorkerAsync("retry-doomed");
        var id = await CreateAsync(Spec(steps: 400, checkpointEvery: 5, maxAttempts: 1));
        await WaitAsync(id, j => Status(j) == "running" && Step(j) >= 12, 120, "two checkpoints");
        _orphans.AddRange(doomed.Crash());
        await StartWorkerAsync("retry-reaper");
        var failed = await PollTerminalAsync(id, 60);
        Assert.True(Status(failed) == "failed", $"expected failed after the attempt limit: {failed}\n{Describe(await EventsAsync(id))}");
        var failedAttempt = failed.GetProperty("attempt").GetInt32();

        var retry = await service.Client.PostAsync($"/api/v1/jobs/{id}/retry", null);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        var done = await PollTerminalAsync(id, 180);
        Assert.True(Status(done) == "succeeded", $"{done}\n{Describe(await EventsAsync(id))}");
        var attempt = done.GetProperty("attempt").GetInt32();
        Assert.True(attempt > failedAttempt, $"the retry is not a new attempt: {attempt} after {failedAttempt}");

        // Resumed, not restarted: the new attempt's first train/loss point comes after the last checkpoint (step ≥ 10).
        await using var connection = new NpgsqlConnection(service.Database.ConnectionString);
        await connection.OpenAsync();
        await using var first = new NpgsqlCommand("SELECT min(step) FROM metric_points WHERE job_id = @id AND name = 'train/loss' AND attempt = @attempt", connection);
        first.Parameters.AddWithValue("id", id);
        first.Parameters.AddWithValue("attempt", attempt);
        var firstStep = await first.ExecuteScalarAsync() as int?;
        Assert.True(firstStep > 10, $"the retried attempt's first step is {firstStep?.ToString() ?? "none"}, not after the last checkpoint");

        var again = await service.Client.PostAsync($"/api/v1/jobs/{id}/retry", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    private async Task<JsonElement> PollTerminalAsync(Guid id, int seconds) =>
        await PollAsync(id, j => Status(j) is "succeeded" or "failed" or "cancelled", seconds) ?? throw new TimeoutException($"job {id} not terminal after {seconds} s: {await service.GetJobAsync(id)}\n{Describe(await EventsAsync(id))}");

    private async Task<JsonElement?> PollAsync(Guid id, Func<JsonElement, bool> condition, int seconds)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            var job = await service.GetJobAsync(id);
            if (condition(job)) return job;
            await Task.Delay(200);
        }
        return null;
    }
}
