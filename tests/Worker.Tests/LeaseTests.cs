using LoraService.Contracts.Attempts;
using LoraService.Contracts.Jobs;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.Domain.Tenants;
using LoraService.ServiceDefaults.Jobs;
using LoraService.TestSupport;
using LoraService.Worker.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LoraService.Worker.Tests;

/// <summary>Claims, fenced writes and the reaper against a real PostgreSQL: the rules that keep one job with one worker.</summary>
public sealed class LeaseTests : IAsyncLifetime
{
    private static readonly WorkerOptions Options = new() { LeaseSeconds = 30, HeartbeatSeconds = 1 };
    private PostgresDatabase _database = null!;
    private NpgsqlDataSource _dataSource = null!;
    private ServiceProvider _services = null!;
    private readonly RecordingJobClient _queue = new();

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync();
        _dataSource = NpgsqlDataSource.Create(_database.ConnectionString);
        var services = new ServiceCollection();
        services.AddDbContext<LoraDbContext>(o => LoraService.Domain.DependencyInjection.UseLoraPostgres(o, _database.ConnectionString));
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _dataSource.DisposeAsync();
        await _database.DisposeAsync();
    }

    private async Task<Guid> SeedAsync(Action<FineTuneJob>? arrange = null, string queue = "cpu", int? maxAttempts = null, int keepCheckpoints = JobDefaults.KeepCheckpoints)
    {
        await using var db = _database.CreateContext();
        var tenant = new Tenant { Name = "t-" + Guid.NewGuid().ToString("N")[..6] };
        var job = new FineTuneJob { TenantId = tenant.Id, Queue = queue, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString(), MaxAttempts = maxAttempts, KeepCheckpoints = keepCheckpoints } };
        arrange?.Invoke(job);
        db.AddRange(tenant, job);
        await db.SaveChangesAsync();
        return job.Id;
    }

    private async Task<FineTuneJob?> ClaimAsync(string worker, params string[] queues)
    {
        await using var db = _database.CreateContext();
        return await new JobClaimer(db, new WorkerIdentity(worker, "cpu"), Options).TryClaimNextAsync(queues.Length == 0 ? ["cpu"] : queues, CancellationToken.None);
    }

    private JobReaper Reaper(double rewakeSeconds = 0.5) =>
        new(_services.GetRequiredService<IServiceScopeFactory>(), new JobWakeUps(_queue), new ReaperOptions { RewakeSeconds = rewakeSeconds }, NullLogger<JobReaper>.Instance);

    private Task ExpireLeaseAsync(Guid id) => ExecuteAsync("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = @id", id);

    private async Task ExecuteAsync(string sql, Guid id)
    {
        await using var command = _dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>What the API does on POST /cancel for a running job.</summary>
    private async Task RequestCancelAsync(Guid id)
    {
        await using var db = _database.CreateContext();
        var job = await db.Jobs.SingleAsync(j => j.Id == id);
        job.MoveTo(JobStatus.Cancelling, DateTimeOffset.UtcNow);
        await db.SaveChangesAsync();
    }

    private async Task<FineTuneJob> ReadAsync(Guid id)
    {
        await using var db = _database.CreateContext();
        return await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id);
    }

    [Fact]
    public async Task Concurrent_claims_give_each_queued_job_to_exactly_one_worker_oldest_first()
    {
        var first = await SeedAsync();
        var second = await SeedAsync();
        await SeedAsync(queue: "gpu");
        var claims = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => ClaimAsync($"w{i}")));
        var won = claims.Where(c => c is not null).Select(c => c!.Id).ToList();
        Assert.Equal(2, won.Count);
        Assert.Equal([first, second], won.Order().ToList());

        var row = await ReadAsync(first);
        Assert.Equal((JobStatus.Running, 1), (row.Status, row.Attempt));
        Assert.True(row.LeaseExpiresAt > DateTimeOffset.UtcNow.AddSeconds(20));
        await using var db = _database.CreateContext();
        Assert.Equal(1, await db.JobAttempts.CountAsync(a => a.JobId == first));
    }

    [Fact]
    public async Task A_held_job_is_never_claimed_again_whatever_the_queue_says()
    {
        await SeedAsync();
        Assert.NotNull(await ClaimAsync("holder"));
        // A duplicate wake-up, or a worker whose queue invisibility timeout is shorter than the run, finds nothing to take.
        Assert.Null(await ClaimAsync("latecomer"));
    }

    [Fact]
    public async Task Writes_carrying_a_stale_attempt_are_refused_and_the_current_attempt_s_land()
    {
        var id = await SeedAsync();
        var claimed = (await ClaimAsync("old"))!;
        var stale = new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "old");
        await ExpireLeaseAsync(id);
        await Reaper().ReapOnceAsync(CancellationToken.None);
        var taken = (await ClaimAsync("new"))!;
        var current = new JobLease(_dataSource, id, taken.TenantId, taken.Attempt, "new");

        Assert.Equal(LeaseState.Lost, await stale.RenewAsync(TimeSpan.FromSeconds(30), new JobProgress { Step = 99 }, CancellationToken.None));
        Assert.False(await stale.WriteMetricsAsync([("train/loss", 5, 9.0)], CancellationToken.None));
        Assert.False(await stale.AddEventAsync("info", "from the past"));
        Assert.False(await stale.AddCheckpointAsync(5, "k", 1, new Dictionary<string, double>(), ["k"], CancellationToken.None));

        Assert.Equal(LeaseState.Held, await current.RenewAsync(TimeSpan.FromSeconds(30), new JobProgress { Step = 5 }, CancellationToken.None));
        Assert.True(await current.WriteMetricsAsync([("train/loss", 5, 1.0)], CancellationToken.None));
        Assert.True(await current.AddCheckpointAsync(5, "k", 1, new Dictionary<string, double>(), ["k"], CancellationToken.None));

        await using var db = _database.CreateContext();
        var point = await db.MetricPoints.SingleAsync(m => m.JobId == id);
        Assert.Equal((1.0, 2), (point.Value, point.Attempt));
        Assert.Equal(5, (await ReadAsync(id)).Progress.Step);
        Assert.DoesNotContain(await db.JobEvents.Where(e => e.JobId == id).Select(e => e.Message).ToListAsync(), m => m == "from the past");
    }

    [Fact]
    public async Task Samples_are_fenced_and_a_repeated_evaluation_overwrites_its_own()
    {
        var id = await SeedAsync();
        var claimed = (await ClaimAsync("w"))!;
        var lease = new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "w");
        var set = Guid.NewGuid();
        AttemptSetSamples Set(string output) => new("target", set, "arith",
            [new AttemptSample("Q0", output, "0", false), new AttemptSample("Q1\0", "#### 2", "2", true)]);

        Assert.True(await lease.WriteSamplesAsync(4, [Set("first")]));
        Assert.True(await lease.WriteSamplesAsync(4, [Set("again")])); // the step evaluated again after a resume
        var stale = new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt + 1, "w");
        Assert.False(await stale.WriteSamplesAsync(8, [Set("stale")]));

        await using var db = _database.CreateContext();
        var rows = await db.EvaluationSamples.Where(s => s.JobId == id).OrderBy(s => s.Index).ToListAsync();
        Assert.Equal([(4, 0, "again", false), (4, 1, "#### 2", true)], rows.Select(r => (r.Step, r.Index, r.Output, r.Correct)));
        Assert.Equal("Q1\uFFFD", rows[1].Prompt); // PostgreSQL text holds no NUL
    }

    [Fact]
    public async Task A_checkpoint_row_carries_the_metrics_at_its_step_and_rows_of_pruned_checkpoints_go()
    {
        var id = await SeedAsync();
        var claimed = (await ClaimAsync("w"))!;
        var lease = new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "w");
        Assert.True(await lease.AddCheckpointAsync(10, "c10", 1, new Dictionary<string, double> { ["train/loss"] = 1.5 }, ["c10"], CancellationToken.None));
        Assert.True(await lease.AddCheckpointAsync(20, "c20", 1, new Dictionary<string, double> { ["train/loss"] = 1.2, ["eval/validation/x/loss"] = 1.3 }, ["c10", "c20"], CancellationToken.None));
        // The engine kept two checkpoints: writing the third pruned the first folder.
        Assert.True(await lease.AddCheckpointAsync(30, "c30", 1, new Dictionary<string, double> { ["train/loss"] = 1.1 }, ["c20", "c30"], CancellationToken.None));

        await using var db = _database.CreateContext();
        var rows = await db.Checkpoints.Where(c => c.JobId == id).OrderBy(c => c.Step).ToListAsync();
        Assert.Equal([20, 30], rows.Select(r => r.Step));
        using var metrics = System.Text.Json.JsonDocument.Parse(rows[0].Metrics!);
        Assert.Equal(1.3, metrics.RootElement.GetProperty("eval/validation/x/loss").GetDouble());
        Assert.Equal(1.2, metrics.RootElement.GetProperty("train/loss").GetDouble());
    }

    [Fact]
    public async Task A_renewal_reports_a_cancel_and_keeps_the_lease()
    {
        var id = await SeedAsync();
        var claimed = (await ClaimAsync("w"))!;
        await RequestCancelAsync(id);
        var lease = new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "w");
        Assert.Equal(LeaseState.CancelRequested, await lease.RenewAsync(TimeSpan.FromSeconds(30), null, CancellationToken.None));
        Assert.True(await lease.WriteMetricsAsync([("train/loss", 1, 1.0)], CancellationToken.None));
    }

    [Fact]
    public async Task The_reaper_requeues_a_job_whose_lease_expired_and_wakes_a_worker()
    {
        var id = await SeedAsync();
        await ClaimAsync("dead");
        Assert.Equal(0, await Reaper().ReapOnceAsync(CancellationToken.None));
        await ExpireLeaseAsync(id);

        Assert.Equal(1, await Reaper().ReapOnceAsync(CancellationToken.None));
        var job = await ReadAsync(id);
        Assert.Equal((JobStatus.Queued, 1, (DateTimeOffset?)null), (job.Status, job.FailedAttempts, job.LeaseExpiresAt));
        Assert.Contains(id, _queue.WokenJobs);
        await using var db = _database.CreateContext();
        var attempt = await db.JobAttempts.SingleAsync(a => a.JobId == id);
        Assert.Equal("lost", attempt.Outcome);
        Assert.NotNull(attempt.EndedAt);
        // Idempotent: a second pass (another host's reaper) changes nothing.
        Assert.Equal(0, await Reaper().ReapOnceAsync(CancellationToken.None));
        Assert.Equal(2, (await ClaimAsync("rescuer"))!.Attempt);
    }

    [Fact]
    public async Task A_cancel_whose_worker_died_ends_cancelled()
    {
        var id = await SeedAsync();
        await ClaimAsync("dead");
        await RequestCancelAsync(id);
        await ExpireLeaseAsync(id);
        await Reaper().ReapOnceAsync(CancellationToken.None);
        Assert.Equal(JobStatus.Cancelled, (await ReadAsync(id)).Status);
        Assert.DoesNotContain(id, _queue.WokenJobs);
    }

    [Fact]
    public async Task A_job_whose_workers_keep_dying_fails_as_worker_lost_and_a_retry_gives_it_a_new_budget()
    {
        var id = await SeedAsync(maxAttempts: 2);
        for (var i = 0; i < 2; i++)
        {
            await ClaimAsync($"dead-{i}");
            await ExpireLeaseAsync(id);
            await Reaper().ReapOnceAsync(CancellationToken.None);
        }
        var job = await ReadAsync(id);
        Assert.Equal((JobStatus.Failed, "worker_lost", 2), (job.Status, job.ErrorCode, job.FailedAttempts));

        await using var db = _database.CreateContext();
        var failed = await db.Jobs.SingleAsync(j => j.Id == id);
        failed.Retry(DateTimeOffset.UtcNow);
        await db.SaveChangesAsync();
        Assert.Equal(3, (await ClaimAsync("after-retry"))!.Attempt);
        Assert.Equal(0, (await ReadAsync(id)).FailedAttempts);
    }

    [Fact]
    public async Task A_queued_job_that_waited_without_being_claimed_gets_another_wake_up()
    {
        var id = await SeedAsync();
        await ExecuteAsync("UPDATE jobs SET queued_at = now() - interval '1 minute' WHERE id = @id", id);
        await Reaper(rewakeSeconds: 5).ReapOnceAsync(CancellationToken.None);
        Assert.Single(_queue.WokenJobs, j => j == id);
        // Not again until the interval has passed since that wake-up.
        await Reaper(rewakeSeconds: 5).ReapOnceAsync(CancellationToken.None);
        Assert.Single(_queue.WokenJobs, j => j == id);
        await ExecuteAsync("UPDATE jobs SET woken_at = now() - interval '6 seconds' WHERE id = @id", id);
        await Reaper(rewakeSeconds: 5).ReapOnceAsync(CancellationToken.None);
        Assert.Equal(2, _queue.WokenJobs.Count(j => j == id));
    }

    private JobFinisher Finisher(LoraService.Domain.Artifacts.IArtifactStore? store = null) => new(_services.GetRequiredService<IServiceScopeFactory>(),
        store ?? new LoraService.Domain.Artifacts.FileSystemArtifactStore(Directory.CreateTempSubdirectory("lease-tests-").FullName), new JobWakeUps(_queue), NullLogger<JobFinisher>.Instance);

    private static AttemptOutcome Completed(int steps) =>
        new("completed", $"{steps}/{steps} steps", new LoraService.Contracts.Attempts.AttemptResult("completed", steps, steps, 100, []));

    [Fact]
    public async Task A_cancel_accepted_while_the_run_was_finishing_ends_cancelled_never_succeeded()
    {
        var id = await SeedAsync();
        var claimed = (await ClaimAsync("w"))!;
        // The API accepted a cancel a moment before the attempt reported that it completed.
        await RequestCancelAsync(id);
        await Finisher().FinishAsync(new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "w"), claimed, Completed(5), null);

        var ended = await ReadAsync(id);
        Assert.Equal(JobStatus.Cancelled, ended.Status);
        await using var check = _database.CreateContext();
        Assert.Empty(await check.Artifacts.Where(a => a.JobId == id).ToListAsync());
        Assert.Equal("cancelled", (await check.JobAttempts.SingleAsync(a => a.JobId == id)).Outcome);
    }

    [Fact]
    public async Task A_completed_attempt_records_its_last_step_even_when_no_heartbeat_carried_it()
    {
        var id = await SeedAsync();
        var claimed = (await ClaimAsync("w"))!;
        var last = new JobProgress { Step = 5, TotalSteps = 5, Epoch = 1, TokensSeen = 100, EtaSeconds = 0.4 };
        await Finisher().FinishAsync(new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "w"), claimed, Completed(5), last);

        var ended = await ReadAsync(id);
        Assert.Equal(JobStatus.Succeeded, ended.Status);
        Assert.Equal((5, 5, 100L, (double?)null), (ended.Progress.Step, ended.Progress.TotalSteps, ended.Progress.TokensSeen, ended.Progress.EtaSeconds));
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(0, false)]
    public async Task A_succeeded_job_loses_its_checkpoints_unless_its_spec_keeps_all(int keepCheckpoints, bool pruned)
    {
        var store = new LoraService.Domain.Artifacts.FileSystemArtifactStore(Directory.CreateTempSubdirectory("retention-").FullName);
        var id = await SeedAsync(keepCheckpoints: keepCheckpoints);
        var claimed = (await ClaimAsync("w"))!;
        await using (var db = _database.CreateContext())
        {
            foreach (var step in new[] { 4, 5 })
            {
                var key = $"{JobStorageKeys.Checkpoints(id)}/checkpoint-{step:D8}";
                Directory.CreateDirectory(store.PathFor(key));
                await File.WriteAllBytesAsync(Path.Combine(store.PathFor(key), "trainable.bin"), new byte[1000]);
                db.Checkpoints.Add(new JobCheckpoint { JobId = id, Step = step, StorageKey = key, Bytes = 1000 });
            }
            await db.SaveChangesAsync();
        }

        await Finisher(store).FinishAsync(new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "w"), claimed, Completed(5), null);

        Assert.Equal(JobStatus.Succeeded, (await ReadAsync(id)).Status);
        await using var check = _database.CreateContext();
        Assert.Equal(pruned ? 0 : 2, await check.Checkpoints.CountAsync(c => c.JobId == id));
        Assert.Equal(pruned ? 0 : 2000, LoraService.Domain.Jobs.JobFiles.Bytes(store, JobStorageKeys.Checkpoints(id)));
    }

    [Fact]
    public async Task An_attempt_that_lost_its_lease_cannot_end_the_job()
    {
        var id = await SeedAsync();
        var stale = (await ClaimAsync("old"))!;
        await ExpireLeaseAsync(id);
        await Reaper().ReapOnceAsync(CancellationToken.None);
        var current = (await ClaimAsync("new"))!;

        await Finisher().FinishAsync(new JobLease(_dataSource, id, stale.TenantId, stale.Attempt, "old"), stale, Completed(5), null);
        var job = await ReadAsync(id);
        Assert.Equal((JobStatus.Running, "new", current.Attempt), (job.Status, job.WorkerId, job.Attempt));
    }

    [Fact]
    public async Task A_crash_requeues_the_job_until_its_max_attempts_then_fails_it_with_the_crash_code()
    {
        var id = await SeedAsync(maxAttempts: 2);
        var crash = new AttemptOutcome("crashed", "the attempt died of signal 11 (SIGSEGV)", null);
        var first = (await ClaimAsync("w"))!;
        await Finisher().FinishAsync(new JobLease(_dataSource, id, first.TenantId, first.Attempt, "w"), first, crash, null);
        Assert.Equal((JobStatus.Queued, 1), ((await ReadAsync(id)).Status, (await ReadAsync(id)).FailedAttempts));
        Assert.Contains(id, _queue.WokenJobs);

        var second = (await ClaimAsync("w"))!;
        await Finisher().FinishAsync(new JobLease(_dataSource, id, second.TenantId, second.Attempt, "w"), second, crash, null);
        var failed = await ReadAsync(id);
        Assert.Equal((JobStatus.Failed, "crashed"), (failed.Status, failed.ErrorCode));
        Assert.Contains("SIGSEGV", failed.ErrorMessage);
    }

    [Fact]
    public async Task A_graceful_stop_hands_the_job_back_without_counting_a_failure()
    {
        var id = await SeedAsync();
        var claimed = (await ClaimAsync("leaving"))!;
        var outcome = AttemptOutcome.Classify(new LoraService.Contracts.Attempts.AttemptResult("cancelled", 3, 10, 30, []), null, 0, StopReason.Shutdown, false, "");
        await Finisher().FinishAsync(new JobLease(_dataSource, id, claimed.TenantId, claimed.Attempt, "leaving"), claimed, outcome, null);
        var job = await ReadAsync(id);
        Assert.Equal((JobStatus.Queued, 0), (job.Status, job.FailedAttempts));
        await using var db = _database.CreateContext();
        Assert.Equal("handed_back", (await db.JobEvents.Where(e => e.JobId == id).OrderBy(e => e.Id).LastAsync()).Type);
    }

    [Fact]
    public async Task Finished_and_cancelled_jobs_are_not_claimed()
    {
        await SeedAsync(j => j.MoveTo(JobStatus.Cancelled, DateTimeOffset.UtcNow));
        await SeedAsync(j => j.Fail("x", "y", DateTimeOffset.UtcNow));
        Assert.Null(await ClaimAsync("w"));
    }

    /// <summary>Records wake-ups instead of writing them to Hangfire's storage.</summary>
    private sealed class RecordingJobClient : IBackgroundJobClient
    {
        public List<Guid> WokenJobs { get; } = [];

        public string Create(Job job, IState state)
        {
            lock (WokenJobs) WokenJobs.Add((Guid)job.Args[0]);
            return WokenJobs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        public bool ChangeState(string jobId, IState state, string expectedState) => true;
    }
}
