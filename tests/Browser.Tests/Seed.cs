using LoraService.Contracts.Jobs;
using System.Security.Cryptography;
using System.Text;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;
using LoraService.Contracts;

namespace LoraService.Browser.Tests;

/// <summary>A running job with real rows: datasets, metric points, events, written straight to the database.</summary>
internal sealed class SeededJob(PostgresDatabase database, Guid tenantId, Guid jobId, Guid target, Guid source)
{
    public Guid JobId => jobId;
    public Guid Target => target;
    public Guid Source => source;

    public static async Task<SeededJob> CreateAsync(PostgresDatabase database)
    {
        await using var db = database.CreateContext();
        var tenantId = (await db.ApiKeys.SingleAsync(k => k.IsAdmin)).TenantId;
        Dataset Set(string name) => new()
        {
            TenantId = tenantId, Name = name, Format = "text", Rows = 10, Bytes = 100,
            Sha256 = new string('0', 64), StorageKey = $"datasets/{Guid.NewGuid():N}.jsonl",
        };
        var target = Set("arithmetic-facts");
        var source = Set("general-knowledge");
        db.Datasets.AddRange(target, source);
        var job = new FineTuneJob
        {
            TenantId = tenantId,
            Name = "browser-test-job",
            Spec = new JobSpec
            {
                BaseModel = "tiny-llama",
                TrainingDataset = target.Id.ToString(),
                Lora = new LoraSettings { Rank = 8 },
                Evaluation = new EvaluationSettings { Target = [target.Id.ToString()], Source = [source.Id.ToString()], EveryNSteps = 20 },
            },
        };
        job.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow);
        job.WorkerId = "worker-1";
        job.Attempt = 1;
        job.Progress = new JobProgress { Step = 40, TotalSteps = 100, Epoch = 0.4, TokensSeen = 40_960, EtaSeconds = 95 };
        db.Jobs.Add(job);
        db.JobEvents.AddRange(
            JobEvent.Create(job.Id, "Job created"),
            JobEvent.Create(job.Id, "Job queued", new { queue = "default" }),
            JobEvent.Create(job.Id, "Job started on worker-1"));
        await db.SaveChangesAsync();
        var seeded = new SeededJob(database, tenantId, job.Id, target.Id, source.Id);
        await seeded.AddTrainLossAsync(1, 40);
        await seeded.AddEvalAsync(0, 20, 40);
        return seeded;
    }

    public static double TrainLoss(int step) => 2.5 * Math.Exp(-step / 30.0) + 0.4 + 0.05 * Math.Sin(step);

    /// <summary>Target loss falls and accuracy rises (learning); source loss rises and accuracy falls (forgetting).</summary>
    public static double Eval(string role, string metric, int step) => (role, metric) switch
    {
        ("target", "loss") => 2.0 - 0.016 * step,
        ("target", "token_accuracy") => 0.30 + 0.004 * step,
        ("source", "loss") => 1.0 + 0.0025 * step,
        ("source", "token_accuracy") => 0.60 - 0.0008 * step,
        _ => throw new ArgumentException(metric),
    };

    public async Task AddTrainLossAsync(int from, int to)
    {
        await using var db = database.CreateContext();
        for (var step = from; step <= to; step++)
            db.MetricPoints.Add(new MetricPoint { JobId = jobId, Name = MetricNames.TrainLoss, Step = step, Value = TrainLoss(step) });
        await db.SaveChangesAsync();
    }

    public async Task AddEvalAsync(params int[] steps)
    {
        await using var db = database.CreateContext();
        foreach (var step in steps)
            foreach (var (role, dataset) in new[] { ("target", target), ("source", source) })
                foreach (var metric in new[] { "loss", "token_accuracy" })
                    db.MetricPoints.Add(new MetricPoint { JobId = jobId, Name = MetricNames.Eval(role, dataset, metric), Step = step, Value = Eval(role, metric, step) });
        await db.SaveChangesAsync();
    }

    public async Task SetProgressAsync(int step)
    {
        await using var db = database.CreateContext();
        var job = await db.Jobs.SingleAsync(j => j.Id == jobId);
        job.Progress = job.Progress with { Step = step, Epoch = step / 100.0, TokensSeen = step * 1024L, EtaSeconds = (100 - step) * 2.4 };
        await db.SaveChangesAsync();
    }

    public const string SummaryJson = "{\"learning\":{\"loss\":1.6}}";

    /// <summary>As the worker finishes: a summary.json artifact in the store, then the job succeeds.</summary>
    public async Task SucceedAsync(IArtifactStore store)
    {
        var key = $"jobs/{jobId:N}/summary.json";
        var bytes = Encoding.UTF8.GetBytes(SummaryJson);
        await store.WriteAsync(key, new MemoryStream(bytes), CancellationToken.None);
        await using var db = database.CreateContext();
        db.Artifacts.Add(new Artifact
        {
            JobId = jobId, TenantId = tenantId, Kind = "summary", FileName = "summary.json", ContentType = "application/json",
            StorageKey = key, Bytes = bytes.Length, Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
        });
        var job = await db.Jobs.SingleAsync(j => j.Id == jobId);
        job.Progress = job.Progress with { Step = 100, Epoch = 1, TokensSeen = 102_400, EtaSeconds = null };
        job.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
        db.JobEvents.Add(JobEvent.Create(jobId, "Job succeeded"));
        await db.SaveChangesAsync();
    }

    /// <summary>Plain jobs for list and lifecycle tests: queued, or moved on by <paramref name="advance"/>.</summary>
    public static async Task<List<Guid>> JobsAsync(PostgresDatabase database, int count, string name, Action<FineTuneJob>? advance = null)
    {
        await using var db = database.CreateContext();
        var tenantId = (await db.ApiKeys.SingleAsync(k => k.IsAdmin)).TenantId;
        var ids = new List<Guid>();
        var createdAt = DateTimeOffset.UtcNow;
        for (var i = 0; i < count; i++)
        {
            var job = new FineTuneJob
            {
                TenantId = tenantId, Name = $"{name}-{i:00}", CreatedAt = createdAt.AddMilliseconds(i),
                Spec = new JobSpec { BaseModel = "tiny-llama", TrainingDataset = Guid.NewGuid().ToString() },
            };
            advance?.Invoke(job);
            db.Jobs.Add(job);
            ids.Add(job.Id);
        }
        await db.SaveChangesAsync();
        return ids;
    }
}
