using LoraService.Contracts.Jobs;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Tenants;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.Domain.Tests;

/// <summary>Migrations applied to a real, empty PostgreSQL database; every entity round-trips.</summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync();

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task The_model_has_no_changes_without_a_migration()
    {
        await using var db = _database.CreateContext();
        Assert.False(db.Database.HasPendingModelChanges(),
            "The EF Core model changed without a migration: dotnet ef migrations add <Name> --project src/Domain --output-dir Persistence/Migrations");
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
    }

    [Fact]
    public async Task Every_entity_round_trips()
    {
        var tenant = new Tenant { Name = "acme" };
        var key = new ApiKey { TenantId = tenant.Id, Name = "ci", Prefix = "abcd1234", Hash = new string('a', 64), IsAdmin = true };
        var dataset = new Dataset { TenantId = tenant.Id, Name = "code", Format = "messages", Rows = 12, Bytes = 3456, Sha256 = new string('b', 64), StorageKey = "datasets/x.jsonl" };
        var model = new BaseModel { Name = "tiny-llama", Architecture = "LlamaForCausalLM", Parameters = 123456, Layers = 2, HiddenSize = 64, VocabSize = 256, MaxPositions = 128, Dtype = "float32", HasTokenizer = true, LoraTargets = ["q_proj", "v_proj"] };
        var spec = new JobSpec
        {
            BaseModel = "tiny-llama",
            TrainingDataset = dataset.Id.ToString(),
            Lora = new LoraSettings { Rank = 8, Alpha = 16, TargetModules = ["q_proj", "v_proj"] },
            Hyperparameters = new Hyperparameters { LearningRate = 1e-3, MaxSteps = 20, Schedule = ScheduleKind.Linear },
            Evaluation = new EvaluationSettings { Target = [dataset.Id.ToString()], Source = [Guid.NewGuid().ToString()], EveryNSteps = 5 },
            MaxWallTime = TimeSpan.FromHours(2),
            Metadata = new Dictionary<string, string> { ["team"] = "nlp" },
        };
        var job = new FineTuneJob { TenantId = tenant.Id, Name = "first", Tags = ["demo"], Spec = spec, IdempotencyKey = "req-1" };
        job.Progress = new JobProgress { Step = 3, TotalSteps = 20, Epoch = 0.15, TokensSeen = 999, EtaSeconds = 12.5 };
        var jobEvent = new JobEvent { JobId = job.Id, Message = "queued", Data = "{\"queue\": \"cpu\"}" };
        var point = new MetricPoint { JobId = job.Id, Name = "train/loss", Step = 3, Value = 2.5 };
        var checkpoint = new JobCheckpoint { JobId = job.Id, Step = 3, StorageKey = "checkpoints/x/3", Bytes = 10, Metrics = "{\"loss\": 2.5}" };
        var artifact = new Artifact { JobId = job.Id, TenantId = tenant.Id, Kind = "adapter", FileName = "adapter_model.safetensors", ContentType = "application/octet-stream", StorageKey = "artifacts/x", Bytes = 10, Sha256 = new string('c', 64) };

        await using (var db = _database.CreateContext())
        {
            db.AddRange(tenant, key, dataset, model, job, jobEvent, point, checkpoint, artifact);
            await db.SaveChangesAsync();
        }

        await using (var db = _database.CreateContext())
        {
            Assert.Equal("acme", (await db.Tenants.SingleAsync()).Name);
            var loadedKey = await db.ApiKeys.Include(k => k.Tenant).SingleAsync();
            Assert.Equal(("abcd1234", true, "acme"), (loadedKey.Prefix, loadedKey.IsAdmin, loadedKey.Tenant!.Name));
            Assert.Equal((12L, "messages"), (await db.Datasets.SingleAsync()).Let(d => (d.Rows, d.Format)));
            Assert.Equal(["q_proj", "v_proj"], (await db.BaseModels.SingleAsync()).LoraTargets);

            var loaded = await db.Jobs.SingleAsync();
            Assert.Equal(JobStatus.Queued, loaded.Status);
            Assert.Equal(8, loaded.Spec.Lora!.Rank);
            Assert.Equal(16.0, loaded.Spec.Lora.Alpha);
            Assert.Equal(["q_proj", "v_proj"], loaded.Spec.Lora.TargetModules);
            Assert.Equal(spec.Evaluation.Source, loaded.Spec.Evaluation.Source);
            Assert.Equal(20, loaded.Spec.Hyperparameters.MaxSteps);
            Assert.Equal(ScheduleKind.Linear, loaded.Spec.Hyperparameters.Schedule);
            Assert.Equal((TimeSpan?)TimeSpan.FromHours(2), loaded.Spec.MaxWallTime);
            Assert.Equal("nlp", loaded.Spec.Metadata["team"]);
            Assert.Equal(job.Progress, loaded.Progress);
            Assert.Equal(["demo"], loaded.Tags);
            Assert.NotEqual(0u, loaded.Version);

            Assert.Equal("queued", (await db.JobEvents.SingleAsync()).Message);
            Assert.Equal(2.5, (await db.MetricPoints.SingleAsync()).Value);
            Assert.Equal(3, (await db.Checkpoints.SingleAsync()).Step);
            Assert.Equal("adapter", (await db.Artifacts.SingleAsync()).Kind);
        }
    }

    [Fact]
    public async Task A_spec_stored_before_the_shared_spec_type_still_reads()
    {
        // What rows held before the job spec moved to Contracts: enum numbers, schedule as a string, dataset ids as uuids.
        var tenant = new Tenant { Name = "t" };
        var job = new FineTuneJob { TenantId = tenant.Id, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        var training = Guid.NewGuid();
        await using (var db = _database.CreateContext())
        {
            db.AddRange(tenant, job);
            await db.SaveChangesAsync();
            var old = $$"""
                {"baseModel":"m","method":1,"trainingDataset":"{{training}}","validationDataset":null,"lora":null,
                 "hyperparameters":{"learningRate":0.0002,"schedule":"cosine","maxSteps":12},
                 "evaluation":{"target":[],"source":[],"everyNSteps":6},"checkpointEvery":50,"maxAttempts":3}
                """;
            await db.Database.ExecuteSqlAsync($"UPDATE jobs SET spec = {old}::jsonb WHERE id = {job.Id}");
        }
        await using (var db = _database.CreateContext())
        {
            var spec = (await db.Jobs.SingleAsync()).Spec;
            Assert.Equal((FineTuneMethod.Full, training.ToString(), ScheduleKind.Cosine, 12, 6),
                (spec.Method, spec.TrainingDataset, spec.Hyperparameters.Schedule, spec.Hyperparameters.MaxSteps, spec.Evaluation.EveryNSteps));
        }
    }

    [Fact]
    public async Task A_stale_job_update_is_rejected_by_xmin()
    {
        var tenant = new Tenant { Name = "t" };
        var job = new FineTuneJob { TenantId = tenant.Id, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        await using (var db = _database.CreateContext())
        {
            db.AddRange(tenant, job);
            await db.SaveChangesAsync();
        }

        await using var first = _database.CreateContext();
        await using var second = _database.CreateContext();
        var a = await first.Jobs.SingleAsync();
        var b = await second.Jobs.SingleAsync();
        a.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow);
        a.WorkerId = "worker-a";
        await first.SaveChangesAsync();

        b.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow);
        b.WorkerId = "worker-b";
        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => second.SaveChangesAsync());
    }

    [Fact]
    public async Task A_metric_point_cannot_be_written_twice_for_the_same_step()
    {
        var tenant = new Tenant { Name = "t" };
        var job = new FineTuneJob { TenantId = tenant.Id, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        await using var db = _database.CreateContext();
        db.AddRange(tenant, job, new MetricPoint { JobId = job.Id, Name = "train/loss", Step = 1, Value = 1 });
        await db.SaveChangesAsync();

        db.Add(new MetricPoint { JobId = job.Id, Name = "train/loss", Step = 1, Value = 2 });
        var error = await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        Assert.Equal(PostgresErrorCodes.UniqueViolation, Assert.IsType<PostgresException>(error.InnerException).SqlState);
    }
}

internal static class LetExtension
{
    public static TResult Let<T, TResult>(this T value, Func<T, TResult> f) => f(value);
}
