using LoraService.Contracts.Jobs;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

/// <summary>A job as a worker leaves it: rows in the real database and files in the API's artifact folder.</summary>
internal static class FinishedJobs
{
    public static async Task<FineTuneJob> SeedAsync(ApiFactory factory, Guid tenantId, JobStatus status, int checkpoints = 2,
        int keepCheckpoints = JobDefaults.KeepCheckpoints, DateTimeOffset? finishedAt = null)
    {
        var job = new FineTuneJob
        {
            TenantId = tenantId, Spec = new JobSpec { BaseModel = "tiny", TrainingDataset = Guid.NewGuid().ToString(), KeepCheckpoints = keepCheckpoints },
        };
        var start = DateTimeOffset.UtcNow;
        if (status != JobStatus.Queued) job.Claim("test-worker", TimeSpan.FromMinutes(1), start);
        if (status == JobStatus.Failed) job.Fail("crashed", "test", finishedAt ?? start);
        else if (status is JobStatus.Succeeded) job.MoveTo(status, finishedAt ?? start);
        else if (status is JobStatus.Cancelled) { job.MoveTo(JobStatus.Cancelling, start); job.MoveTo(status, finishedAt ?? start); }

        await using var db = factory.Database.CreateContext();
        db.Jobs.Add(job);
        db.JobEvents.Add(JobEvent.Create(job.Id, "Job created"));
        db.JobAttempts.Add(new JobAttempt { JobId = job.Id, Attempt = 1, WorkerId = "test-worker", StartedAt = start });
        db.MetricPoints.Add(new MetricPoint { JobId = job.Id, Name = "train/loss", Step = 1, Value = 2.0, Attempt = 1 });
        for (var step = 1; step <= checkpoints; step++)
        {
            var key = $"{JobStorageKeys.Checkpoints(job.Id)}/checkpoint-{step:D8}";
            Write(factory, $"{key}/trainable.bin", 4096);
            db.Checkpoints.Add(new JobCheckpoint { JobId = job.Id, Step = step, StorageKey = key, Bytes = 4096 });
        }
        Write(factory, $"{JobStorageKeys.Work(job.Id)}/journal.jsonl", 100);
        foreach (var (kind, file, bytes) in new[] { ("adapter", "adapter/adapter_model.safetensors", 8192), ("adapter_config", "adapter/adapter_config.json", 200), ("summary", "summary.json", 300) })
        {
            var key = $"{JobStorageKeys.Output(job.Id)}/{file}";
            Write(factory, key, bytes);
            db.Artifacts.Add(new Artifact { JobId = job.Id, TenantId = tenantId, Kind = kind, FileName = Path.GetFileName(file), ContentType = "application/octet-stream", StorageKey = key, Bytes = bytes, Sha256 = new string('0', 64) });
        }
        await db.SaveChangesAsync();
        return job;
    }

    public static long FolderBytes(ApiFactory factory, string key)
    {
        var path = Path.Combine(factory.ArtifactsPath, key);
        return Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;
    }

    private static void Write(ApiFactory factory, string key, int bytes)
    {
        var path = Path.Combine(factory.ArtifactsPath, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, new byte[bytes]);
    }
}
