using LoraService.Contracts;
using LoraService.Contracts.Attempts;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.Domain.Webhooks;
using LoraService.ServiceDefaults;
using LoraService.ServiceDefaults.Observability;
using Npgsql;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Runs one attempt of a claimed job in a child process and turns what it reports into fenced writes: metric points,
/// progress with the lease renewal, checkpoint rows, events. Stops the child when a cancel arrives (LISTEN/NOTIFY or
/// the heartbeat), when the worker shuts down, when the child goes silent (hung) or when the lease is lost; kills it
/// when it does not stop within the graceful-stop budget. Then <see cref="JobFinisher"/> ends the attempt.
/// </summary>
internal sealed class AttemptRunner(
    IServiceScopeFactory scopes, NpgsqlDataSource db, IArtifactStore store, LoraOptions lora, WorkerOptions options,
    WorkerIdentity me, CancelSignals cancels, JobFinisher finisher, IHostApplicationLifetime lifetime, ILogger<AttemptRunner> logger)
{
    /// <summary>One attempt, in a <c>job.attempt</c> span and a logging scope that put the job's id and attempt on everything it logs.</summary>
    public async Task RunAsync(FineTuneJob job)
    {
        using var activity = ServiceTracing.StartAttempt(job.Id, job.Attempt, job.Queue, me.Name);
        using var scope = JobLogScope.Begin(logger, job.Id, job.Attempt);
        var outcome = await RunAttemptAsync(job);
        activity?.SetTag(ServiceTracing.OutcomeTag, outcome);
        if (outcome is not ("completed" or "cancelled" or "handed_back")) activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, outcome);
    }

    /// <returns>The attempt's outcome code (lease_lost when it lost its lease).</returns>
    private async Task<string> RunAttemptAsync(FineTuneJob job)
    {
        var lease = new JobLease(db, job.Id, job.TenantId, job.Attempt, me.Name);
        string specPath;
        await using (var scope = scopes.CreateAsyncScope())
        {
            try
            {
                var spec = await RunSpecBuilder.BuildAsync(job, scope.ServiceProvider.GetRequiredService<LoraDbContext>(), store, lora, me.Device, CancellationToken.None);
                specPath = RunSpecBuilder.WriteAttemptSpec(spec, job.Attempt);
            }
            catch (JobInputException e)
            {
                await finisher.FinishAsync(lease, job, new AttemptOutcome(e.Code, e.Message, null), null);
                return e.Code;
            }
            catch (IOException e) when (DiskFullException.IsDiskFull(e))
            {
                await finisher.FinishAsync(lease, job, new AttemptOutcome(DiskFullException.Code, $"no space left on device while writing the attempt's spec: {e.Message}", null), null);
                return DiskFullException.Code;
            }
        }

        logger.LogInformation("Job {JobId}: attempt {Attempt} of {Method} fine-tuning of {Model} on {Device}",
            job.Id, job.Attempt, job.Spec.Method, job.Spec.BaseModel, me.Device);
        var oomKillsBefore = OomKills.Count();
        var stop = StopReason.None;
        var stopAt = 0L;
        var metrics = new MetricWriter(lease);
        var progress = new ProgressBox();
        var telemetry = new StepTelemetry(me.Name);
        var atStep = new StepMetrics();
        AttemptResult? result = null;
        AttemptError? error = null;
        int exitCode;

        await using (var child = AttemptProcess.Start(specPath, job.Id, job.Attempt, options.AttemptMemoryLimitMb, logger))
        {
            void Stop(StopReason reason, bool kill = false)
            {
                if (stop == StopReason.None || reason is StopReason.LeaseLost or StopReason.Hung)
                {
                    if (stop == StopReason.None) stopAt = Environment.TickCount64;
                    stop = reason;
                }
                if (kill) child.Kill();
                else child.RequestStop();
            }

            using var onCancel = cancels.Subscribe(job.Id, () => Stop(StopReason.Cancel));
            using var onShutdown = lifetime.ApplicationStopping.Register(() => Stop(StopReason.Shutdown));
            using var quit = new CancellationTokenSource();
            var deadline = job.StartedAt + job.Spec.MaxWallTime;
            var watch = WatchAsync(lease, child, metrics, progress, deadline, () => stop, () => stopAt, Stop, quit.Token);

            await foreach (var message in child.Messages.ReadAllAsync())
            {
                switch (message)
                {
                    case AttemptStep s:
                        atStep.Record(s.Step, MetricNames.TrainLoss, s.Loss);
                        metrics.Add(MetricNames.TrainLoss, s.Step, s.Loss);
                        metrics.Add(MetricNames.LearningRate, s.Step, s.LearningRate);
                        metrics.Add(MetricNames.GradNorm, s.Step, s.GradNorm);
                        metrics.Add(MetricNames.TokensPerSecond, s.Step, s.TokensPerSecond);
                        metrics.Add(MetricNames.TokensSeen, s.Step, s.TokensSeen);
                        metrics.Add(MetricNames.Epoch, s.Step, s.Epoch);
                        metrics.Add(MetricNames.ElapsedSeconds, s.Step, s.ElapsedSeconds);
                        progress.Set(new JobProgress { Step = s.Step, TotalSteps = s.TotalSteps, Epoch = s.Epoch, TokensSeen = s.TokensSeen, EtaSeconds = Math.Round(s.EtaSeconds, 1) });
                        progress.Log(logger, job.Id, s);
                        telemetry.Record(s);
                        break;
                    case AttemptEvaluation e:
                        foreach (var m in e.Measurements)
                        {
                            atStep.Record(e.Step, MetricNames.Eval(m.Role, m.DatasetId, m.Metric), m.Value);
                            metrics.Add(MetricNames.Eval(m.Role, m.DatasetId, m.Metric), e.Step, m.Value);
                        }
                        logger.LogInformation("Job {JobId} evaluated at step {Step}: {Count} measurement(s)", job.Id, e.Step, e.Measurements.Count);
                        telemetry.Record(e);
                        // Step 0 is the base model's baseline, not training progress: no job.evaluated for it.
                        if (e.Step > 0)
                        {
                            metrics.AddEvaluated(e.Step);
                            if (!await Fenced(() => metrics.FlushAsync())) Stop(StopReason.LeaseLost, kill: true);
                        }
                        break;
                    case AttemptSamples samples:
                        if (!await Fenced(() => lease.WriteSamplesAsync(samples.Step, samples.Sets))) Stop(StopReason.LeaseLost, kill: true);
                        break;
                    case AttemptCheckpoint c:
                        // Metrics up to the checkpoint are durable before its row says "resume from here".
                        if (!await Fenced(() => metrics.FlushAsync()) ||
                            !await Fenced(() => lease.AddCheckpointAsync(c.Step, CheckpointKey(job.Id, c.Directory), FolderBytes(c.Directory),
                                atStep.At(c.Step), CheckpointsOnDisk(job.Id, c.Directory), CancellationToken.None)))
                            Stop(StopReason.LeaseLost, kill: true);
                        break;
                    case AttemptEvent { Kind: AttemptEventTypes.ForgettingBudgetExceeded } e:
                        // Its evaluation's points first, so the webhook's learning and forgetting at the step are stored.
                        if (!await Fenced(() => metrics.FlushAsync()) ||
                            !await Fenced(() => lease.AddEventAsync(e.Level, e.Message, new { step = e.Step }, e.Kind, CancellationToken.None, WebhookEventTypes.ForgettingBudgetExceeded)))
                            Stop(StopReason.LeaseLost, kill: true);
                        break;
                    case AttemptEvent e:
                        if (!await Fenced(() => lease.AddEventAsync(e.Level, e.Message))) Stop(StopReason.LeaseLost, kill: true);
                        break;
                    case AttemptMetrics replayed:
                        foreach (var p in replayed.Points) metrics.Add(p.Name, p.Step, p.Value);
                        break;
                    case AttemptResult r:
                        result = r;
                        break;
                    case AttemptError e:
                        error = e;
                        break;
                }
            }
            exitCode = await child.WaitForExitAsync();
            await quit.CancelAsync();
            await watch;
            if (stop != StopReason.LeaseLost && !await Fenced(() => metrics.FlushAsync())) stop = StopReason.LeaseLost;

            var outcome = AttemptOutcome.Classify(result, error, exitCode, stop, OomKills.Count() > oomKillsBefore, child.StderrTail);
            logger.LogInformation("Job {JobId}: attempt {Attempt} ended {Outcome} ({Detail}), exit code {ExitCode}",
                job.Id, job.Attempt, outcome.Code, outcome.Detail, exitCode);
            if (stop == StopReason.LeaseLost)
            {
                logger.LogWarning("Job {JobId}: attempt {Attempt} lost its lease; writing nothing more", job.Id, job.Attempt);
                return "lease_lost";
            }
            await FinishAsync(lease, job, outcome, progress.Get());
            return outcome.Code;
        }
    }

    /// <summary>Ends the attempt, retrying through a database outage for as long as the lease could still be ours.</summary>
    private async Task FinishAsync(JobLease lease, FineTuneJob job, AttemptOutcome outcome, JobProgress? lastProgress)
    {
        var deadline = Environment.TickCount64 + (long)options.Lease.TotalMilliseconds;
        while (true)
        {
            try
            {
                await finisher.FinishAsync(lease, job, outcome, lastProgress);
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && Environment.TickCount64 < deadline)
            {
                logger.LogWarning("Job {JobId}: recording the end of attempt {Attempt} failed ({Reason}); retrying", job.Id, job.Attempt, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    /// <summary>
    /// Every heartbeat: flush metrics, renew the lease with the latest progress, pass on a cancel, enforce the hang limit,
    /// the job's max_wall_time and the graceful-stop budget. Without the database for longer than the lease, the lease is presumed lost.
    /// </summary>
    private async Task WatchAsync(JobLease lease, AttemptProcess child, MetricWriter metrics, ProgressBox progress, DateTimeOffset? deadline,
        Func<StopReason> stop, Func<long> stopAt, Action<StopReason, bool> request, CancellationToken quit)
    {
        var lastRenewal = Environment.TickCount64;
        var budgetLogged = false;
        using var timer = new PeriodicTimer(options.HeartbeatInterval);
        do
        {
            try
            {
                if (!await metrics.FlushAsync(quit)) { request(StopReason.LeaseLost, true); return; }
                switch (await lease.RenewAsync(options.Lease, progress.Get(), quit))
                {
                    case LeaseState.Lost:
                        request(StopReason.LeaseLost, true);
                        return;
                    case LeaseState.CancelRequested:
                        request(StopReason.Cancel, false);
                        break;
                }
                lastRenewal = Environment.TickCount64;
            }
            catch (OperationCanceledException) when (quit.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                logger.LogWarning("Job {JobId}: lease renewal failed: {Reason}", lease.JobId, e.Message);
                if (Environment.TickCount64 - lastRenewal > options.Lease.TotalMilliseconds)
                {
                    logger.LogError("Job {JobId}: no renewal for longer than the lease; stopping the attempt", lease.JobId);
                    request(StopReason.LeaseLost, true);
                    return;
                }
            }

            if (child.Silence > options.HangAfter && stop() is not StopReason.Hung)
            {
                logger.LogError("Job {JobId}: the attempt wrote nothing for {Seconds:F0} s; killing it as hung", lease.JobId, child.Silence.TotalSeconds);
                request(StopReason.Hung, true);
            }
            if (deadline is { } end && DateTimeOffset.UtcNow >= end && stop() == StopReason.None)
            {
                logger.LogWarning("Job {JobId}: max_wall_time reached; stopping the attempt at a checkpoint", lease.JobId);
                request(StopReason.WallTime, false);
            }
            if (stop() is StopReason.Cancel or StopReason.Shutdown or StopReason.WallTime && !budgetLogged
                && Environment.TickCount64 - stopAt() > options.StopGrace.TotalMilliseconds)
            {
                budgetLogged = true;
                logger.LogWarning("Job {JobId}: the attempt did not stop within the graceful-stop budget ({Seconds} s); killing it", lease.JobId, options.StopGraceSeconds);
                request(stop(), true);
            }
        }
        while (await WaitAsync(timer, quit));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken quit)
    {
        try { return await timer.WaitForNextTickAsync(quit); }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>A fenced write that a database error does not turn into a lost lease (the heartbeat decides that).</summary>
    private async Task<bool> Fenced(Func<Task<bool>> write)
    {
        try
        {
            return await write();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.LogWarning("A job write failed and will be retried with the next flush: {Reason}", e.Message);
            return true;
        }
    }

    private string CheckpointKey(Guid jobId, string directory) => $"{JobStorageKeys.Work(jobId)}/checkpoints/{Path.GetFileName(directory)}";

    /// <summary>The storage keys of the checkpoint folders still on disk (the engine prunes old ones).</summary>
    private IReadOnlyList<string> CheckpointsOnDisk(Guid jobId, string directory)
    {
        var root = Path.GetDirectoryName(Path.GetFullPath(directory));
        return root is null || !Directory.Exists(root)
            ? []
            : Directory.EnumerateDirectories(root).Select(d => CheckpointKey(jobId, d)).ToList();
    }

    private static long FolderBytes(string directory) =>
        Directory.Exists(directory) ? Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;

    /// <summary>The metrics reported at the latest step (its train loss, and an evaluation if one ran there), for its checkpoint row.</summary>
    private sealed class StepMetrics
    {
        private int _step = -1;
        private readonly Dictionary<string, double> _values = [];

        public void Record(int step, string name, double value)
        {
            if (step != _step)
            {
                _values.Clear();
                _step = step;
            }
            if (double.IsFinite(value)) _values[name] = value;
        }

        public IReadOnlyDictionary<string, double> At(int step) => step == _step ? new Dictionary<string, double>(_values) : new Dictionary<string, double>();
    }

    /// <summary>The latest progress, handed from the message pump to the heartbeat; and a log line every 10 s.</summary>
    private sealed class ProgressBox
    {
        private JobProgress? _progress;
        private long _lastLog;

        public void Set(JobProgress progress) => Volatile.Write(ref _progress, progress);
        public JobProgress? Get() => Volatile.Read(ref _progress);

        public void Log(ILogger logger, Guid jobId, AttemptStep s)
        {
            if (Environment.TickCount64 - _lastLog < 10_000 && s.Step != s.TotalSteps) return;
            _lastLog = Environment.TickCount64;
            logger.LogInformation("Job {JobId} step {Step}/{Total} loss {Loss:F4} lr {Lr:E2} {TokensPerSecond:F0} tok/s ETA {Eta:F0}s",
                jobId, s.Step, s.TotalSteps, s.Loss, s.LearningRate, s.TokensPerSecond, s.EtaSeconds);
        }
    }
}
