using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.Training.Pipeline;
using LoraService.Training.Training;
using LoraService.Contracts;

namespace LoraService.Worker.Jobs;

/// <summary>Engine callbacks → metric points (batched), progress (via the heartbeat), checkpoint rows and events.</summary>
internal sealed class JobObserver(Guid jobId, MetricWriter metrics, JobHeartbeat heartbeat, IServiceScopeFactory scopes, string workKey, ILogger logger)
    : IFineTuneObserver
{
    private DateTime _lastLog = DateTime.MinValue;

    public void OnStep(TrainingProgress p)
    {
        metrics.Add(MetricNames.TrainLoss, p.Step, p.Loss);
        metrics.Add(MetricNames.LearningRate, p.Step, p.LearningRate);
        metrics.Add(MetricNames.GradNorm, p.Step, p.GradNorm);
        metrics.Add(MetricNames.TokensPerSecond, p.Step, p.TokensPerSecond);
        metrics.Add(MetricNames.TokensSeen, p.Step, p.TokensSeen);
        metrics.Add(MetricNames.Epoch, p.Step, p.Epoch);
        metrics.Add(MetricNames.ElapsedSeconds, p.Step, p.Elapsed.TotalSeconds);
        heartbeat.Report(new JobProgress
        {
            Step = p.Step, TotalSteps = p.TotalSteps, Epoch = p.Epoch, TokensSeen = p.TokensSeen, EtaSeconds = Math.Round(p.Eta.TotalSeconds, 1),
        });
        if (DateTime.UtcNow - _lastLog > TimeSpan.FromSeconds(10) || p.Step == p.TotalSteps)
        {
            _lastLog = DateTime.UtcNow;
            logger.LogInformation("Job {JobId} step {Step}/{Total} loss {Loss:F4} lr {Lr:E2} {TokensPerSecond:F0} tok/s ETA {Eta:F0}s",
                jobId, p.Step, p.TotalSteps, p.Loss, p.LearningRate, p.TokensPerSecond, p.Eta.TotalSeconds);
        }
    }

    public void OnEvaluation(int step, IReadOnlyList<EvalMeasurement> measurements)
    {
        foreach (var m in measurements)
            metrics.Add(MetricNames.Eval(m.Role, m.DatasetId, m.Metric), step, m.Value);
        logger.LogInformation("Job {JobId} evaluated at step {Step}: {Count} measurement(s)", jobId, step, measurements.Count);
    }

    public void OnCheckpoint(int step, string directory)
    {
        // Metrics up to the checkpoint are durable before the checkpoint row says "resume from here".
        metrics.FlushAsync().GetAwaiter().GetResult();
        var bytes = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        if (!db.Checkpoints.Any(c => c.JobId == jobId && c.Step == step))
            db.Checkpoints.Add(new JobCheckpoint { JobId = jobId, Step = step, StorageKey = $"{workKey}/{Path.GetFileName(directory)}", Bytes = bytes });
        db.JobEvents.Add(JobEvent.Create(jobId, $"Checkpoint at step {step}", new { step, bytes }));
        db.SaveChanges();
    }

    public void OnEvent(string level, string message)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        db.JobEvents.Add(JobEvent.Create(jobId, message, level: level));
        db.SaveChanges();
    }
}
