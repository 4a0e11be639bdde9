using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace LoraService.EndToEnd.Tests.FaultInjection;

/// <summary>
/// Real API and worker processes on a real PostgreSQL, a seeded random schedule of crashes, graceful stops, a worker
/// with a short invisibility timeout, API restarts and cancels; then the job-lifecycle invariants, checked with raw SQL.
/// LORA_FAULTS_SEED replays a schedule; LORA_FAULTS_PROFILE=soak runs rounds for LORA_FAULTS_MINUTES (scripts/soak.sh);
/// LORA_FAULTS_REPORT names a file that receives the log and the summary line.
/// </summary>
[Trait("Category", "FaultInjection")]
public sealed class FaultInjectionTests(ITestOutputHelper output)
{
    private readonly StringBuilder _log = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private void Log(string line)
    {
        var text = $"[{_clock.Elapsed:mm\\:ss\\.f}] {line}";
        lock (_log) _log.AppendLine(text);
        try { output.WriteLine(text); } catch (InvalidOperationException) { } // a background line after the test ended
        if (Environment.GetEnvironmentVariable("LORA_FAULTS_REPORT") is { Length: > 0 } report)
            lock (_log) File.AppendAllText(report, text + Environment.NewLine);
    }

    private static object Spec(string model, Guid train, int spec, FaultPlan plan) => new
    {
        base_model = model,
        method = "lora",
        name = $"fi-spec-{spec}",
        training_dataset = train,
        lora = new { rank = 4, dropout = 0.05 },
        hyperparameters = new { learning_rate = 2e-3 * (spec + 1), max_steps = plan.Steps, batch_size = 8, micro_batch_size = 4, max_sequence_length = 32, warmup_ratio = 0.1, seed = 100 + spec },
        evaluation = new { every_n_steps = 0, max_examples = 4, max_new_tokens = 4 },
        checkpoint_every = plan.CheckpointEvery,
    };

    [Fact]
    public async Task Every_job_ends_whole_under_a_seeded_schedule_of_faults()
    {
        var plan = FaultPlan.FromEnvironment();
        Log($"fault-injection seed={plan.Seed} profile={plan.Profile} workers={plan.Workers} jobs/round={plan.JobsPerRound} steps={plan.Steps}");
        var random = new Random(plan.Seed);
        var service = new Service();
        await service.InitializeAsync();
        var harness = new FaultHarness(service, Log);
        var jobs = new List<TrackedJob>();
        var violations = new List<(Guid Job, string Violation)>();
        var invariants = new Invariants(service.Database.ConnectionString);
        try
        {
            for (var i = 0; i < plan.Workers; i++) harness.StartWorkerInBackground();
            await harness.DrainBackgroundAsync();
            await service.CreateModelAsync("fi-llama", "llama");
            var train = await service.UploadAsync("arith-train");

            // The reference: each distinct spec once, with no faults.
            var references = new Dictionary<int, Guid>();
            for (var spec = 0; spec < plan.DistinctSpecs; spec++) references[spec] = await harness.CreateJobAsync(Spec("fi-llama", train, spec, plan));
            var referenceJobs = references.Select(r => new TrackedJob(r.Value, r.Key, plan.Steps, "reference")).ToList();
            await invariants.WaitForTerminalAsync(references.Values, plan.TerminalBound);
            var referenceSha = new Dictionary<int, string>();
            var statuses = await invariants.StatusesAsync(references.Values);
            foreach (var (spec, id) in references)
            {
                if (statuses.GetValueOrDefault(id) != "succeeded")
                {
                    violations.Add((id, $"reference run of spec {spec} ended {statuses.GetValueOrDefault(id, "missing")} without any fault"));
                    continue;
                }
                referenceSha[spec] = await AdapterShaAsync(service, id);
            }
            // Without an adapter per spec there is nothing to compare with: stop here. Other violations are reported at the end.
            if (referenceSha.Count < plan.DistinctSpecs) Assert.Fail(await ReportAsync(plan, violations, referenceJobs, invariants, harness));
            violations.AddRange(await invariants.CheckAsync(referenceJobs, referenceSha));
            jobs.AddRange(referenceJobs);
            Log($"references ({_clock.Elapsed.TotalSeconds:0} s): {string.Join(", ", referenceSha.Select(r => $"spec {r.Key} → {r.Value[..12]}"))}");

            var round = 0;
            var roundViolations = 0;
            var soakEnd = DateTime.UtcNow + plan.Duration;
            do
            {
                round++;
                var roundJobs = await RunRoundAsync(plan, random, service, harness, train, round);
                jobs.AddRange(roundJobs);
                await harness.DrainBackgroundAsync();
                var open = await invariants.WaitForTerminalAsync(roundJobs.Select(j => j.Id).ToList(), plan.TerminalBound);
                var before = violations.Count;
                violations.AddRange(open.Select(o => (o.Id, $"a: still {o.Status} {plan.TerminalBound.TotalSeconds:0} s after the round's last fault")));
                violations.AddRange(await invariants.CheckAsync(roundJobs, referenceSha));
                roundViolations = violations.Count - before;
                Log($"round {round}: {roundJobs.Count} jobs, {violations.Count} violation(s) so far");
            }
            while (DateTime.UtcNow < soakEnd && roundViolations == 0);

            // e. No worker died except those the schedule killed or stopped.
            foreach (var worker in harness.Workers.Where(w => w.Fault is null && w.Host.HasExited))
                violations.Add((Guid.Empty, $"e: worker {worker.Name} ({worker.Kind}) exited (code {worker.Host.ExitCode}) without being killed:\n{Tail(worker.Host.Output)}"));
            // A killed worker's attempt processes notice it (their pipe closes) and exit; none may run on unsupervised.
            foreach (var worker in harness.Workers.Where(w => w.Orphans.Count > 0))
                foreach (var orphan in worker.Orphans.Where(HostProcess.KillIfOurs))
                    violations.Add((Guid.Empty, $"e: process {orphan}, a child of the killed worker {worker.Name}, was still running at the end"));
            if (service.Api.HasExited) violations.Add((Guid.Empty, $"e: the API exited:\n{Tail(service.Api.Output)}"));

            var report = await ReportAsync(plan, violations, jobs, invariants, harness);
            Assert.True(violations.Count == 0, report);
        }
        finally
        {
            try { await harness.DrainBackgroundAsync(); } catch (Exception e) { Log($"background task failed: {e.Message}"); }
            await service.DisposeAsync();
        }
    }

    private async Task<List<TrackedJob>> RunRoundAsync(FaultPlan plan, Random random, Service service, FaultHarness harness, Guid train, int round)
    {
        var jobs = new List<TrackedJob>();
        var start = Stopwatch.StartNew();
        foreach (var fault in plan.Round(random))
        {
            if (fault.At > start.Elapsed) await Task.Delay(fault.At - start.Elapsed);
            switch (fault.Kind)
            {
                case FaultKind.CreateJob or FaultKind.CreateAndCancelAtOnce or FaultKind.CreateAndCancelAfterFirstStep:
                {
                    var job = new TrackedJob(await harness.CreateJobAsync(Spec("fi-llama", train, fault.Spec, plan)), fault.Spec, plan.Steps, $"round {round}, {fault.Kind}");
                    jobs.Add(job);
                    if (fault.Kind == FaultKind.CreateAndCancelAtOnce)
                    {
                        var answer = await harness.CancelAsync(job);
                        harness.Count("cancel-at-creation");
                        Log($"job {job.Id} created and cancelled at once: {answer.StatusCode}");
                    }
                    else if (fault.Kind == FaultKind.CreateAndCancelAfterFirstStep)
                    {
                        harness.Count("cancel-after-first-step");
                        harness.Background(async () =>
                        {
                            await harness.CancelAfterFirstStepAsync(job, TimeSpan.FromMinutes(3));
                            Log($"job {job.Id} cancelled after its first step: {job.Cancels.Last().StatusCode}");
                        });
                    }
                    break;
                }
                case FaultKind.CancelRandomJob when jobs.Count > 0:
                {
                    var job = jobs[random.Next(jobs.Count)];
                    var answer = await harness.CancelAsync(job);
                    harness.Count("cancel");
                    Log($"cancelled job {job.Id}: {answer.StatusCode}");
                    break;
                }
                case FaultKind.KillWorker or FaultKind.TerminateWorker when harness.PickLiveWorker(random) is { } victim:
                {
                    var kill = fault.Kind == FaultKind.KillWorker;
                    victim.Fault = kill ? "kill -9" : "SIGTERM";
                    if (kill) victim.Orphans = victim.Host.Crash();
                    else victim.Host.Terminate();
                    harness.Count(kill ? "kill-9" : "sigterm");
                    Log($"{victim.Fault} worker {victim.Name} (pid {victim.Host.Pid}); starting a replacement");
                    harness.StartWorkerInBackground();
                    break;
                }
                case FaultKind.StartShortInvisibilityWorker:
                    // It joins the others; past one extra worker, a random one leaves (SIGTERM) to keep the machine's load bounded.
                    if (harness.LiveOrStarting > plan.Workers && harness.PickLiveWorker(random) is { } leaving)
                    {
                        leaving.Fault = "SIGTERM";
                        leaving.Host.Terminate();
                        harness.Count("sigterm");
                        Log($"SIGTERM worker {leaving.Name} (pid {leaving.Host.Pid}) to make room");
                    }
                    harness.Count("short-invisibility-worker");
                    Log("starting a worker with InvisibilityTimeout 2 s and LeaseSeconds 5");
                    harness.StartWorkerInBackground("short-invisibility");
                    break;
                case FaultKind.RestartApi:
                    harness.Count("api-restart");
                    Log("restarting the API");
                    await service.RestartApiAsync();
                    Log("the API is back");
                    break;
            }
        }
        return jobs;
    }

    private static async Task<string> AdapterShaAsync(Service service, Guid job)
    {
        await using var connection = new Npgsql.NpgsqlConnection(service.Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new Npgsql.NpgsqlCommand("SELECT sha256 FROM artifacts WHERE job_id = @id AND kind = 'adapter' AND file_name = 'adapter_model.safetensors'", connection);
        query.Parameters.AddWithValue("id", job);
        return (string?)await query.ExecuteScalarAsync() ?? "";
    }

    private async Task<string> ReportAsync(FaultPlan plan, List<(Guid Job, string Violation)> violations, List<TrackedJob> jobs, Invariants invariants, FaultHarness harness)
    {
        var faults = string.Join(", ", harness.Injected.OrderBy(f => f.Key).Select(f => $"{f.Key}={f.Value}"));
        var summary = $"fault-injection seed={plan.Seed} profile={plan.Profile}: {jobs.Count} jobs, faults injected {harness.Injected.Values.Sum()} ({faults}), invariant violations {violations.Count}, {_clock.Elapsed.TotalSeconds:0} s";
        Log(summary);
        if (violations.Count == 0) return summary;
        var text = new StringBuilder(summary).AppendLine().AppendLine($"replay with LORA_FAULTS_SEED={plan.Seed} LORA_FAULTS_PROFILE={plan.Profile}");
        foreach (var group in violations.GroupBy(v => v.Job).Take(12))
        {
            var job = jobs.FirstOrDefault(j => j.Id == group.Key);
            text.AppendLine(group.Key == Guid.Empty ? "(not one job)" : $"job {group.Key} ({job?.Origin ?? "?"}, spec {job?.Spec}, cancels: {string.Join(" ", job?.Cancels.Select(c => c.StatusCode) ?? [])})");
            foreach (var (_, violation) in group.Take(8)) text.AppendLine("  " + violation);
            if (group.Key != Guid.Empty) text.AppendLine("  events:").Append(await invariants.EventsAsync(group.Key));
        }
        text.AppendLine("schedule log:");
        lock (_log) text.Append(_log);
        return text.ToString();
    }

    private static string Tail(string text) => text[Math.Max(0, text.Length - 3000)..];
}
