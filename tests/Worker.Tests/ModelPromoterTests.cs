using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using LoraService.Domain.Tenants;
using LoraService.ServiceDefaults;
using LoraService.TestSupport;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Lora;
using LoraService.Worker.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace LoraService.Worker.Tests;

/// <summary>A LoRA job without a merged export, promoted: the worker merges base + s·B·A; checked against the files by hand.</summary>
public sealed class ModelPromoterTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private readonly string _data = Directory.CreateTempSubdirectory("lora-promoter-").FullName;
    private string Models => Path.Combine(_data, "models");
    private LoraOptions Options => new() { ModelsPath = Models, ArtifactsPath = Path.Combine(_data, "artifacts") };

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync();

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }

    /// <summary>A random base model "parent" and a succeeded LoRA job on it; the adapter folder is where its output would be.</summary>
    private async Task<(Tenant Tenant, FineTuneJob Job, FileSystemArtifactStore Store, string Adapter)> SucceededLoraJobOnParentAsync(LoraDbContext db)
    {
        new ModelCatalog(db, Options, NullLogger<ModelCatalog>.Instance).CreateRandom(new NewModelSpec("parent", HiddenSize: 32, Layers: 2, Heads: 4, MaxPositions: 64));
        var tenant = db.Tenants.Add(new Tenant { Name = "owner" }).Entity;
        var job = new FineTuneJob { TenantId = tenant.Id, Spec = new JobSpec { BaseModel = "parent", Method = FineTuneMethod.Lora, TrainingDataset = "x" } };
        job.Claim("w", TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow);
        job.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
        db.Jobs.Add(job);
        await db.SaveChangesAsync();
        var store = new FileSystemArtifactStore(Options.ArtifactsPath);
        return (tenant, job, store, store.PathFor($"{JobStorageKeys.Output(job.Id)}/adapter"));
    }

    [Fact]
    public async Task An_adapter_is_merged_into_its_base_as_w0_plus_s_b_a_and_registered_with_its_lineage()
    {
        await using var db = _database.CreateContext();
        var (tenant, job, store, adapter) = await SucceededLoraJobOnParentAsync(db);
        const int rank = 4;
        const double alpha = 12;
        using (var model = CheckpointLoader.Load(Path.Combine(Models, "parent"), CPU))
        {
            LoraModel.Apply(model, new LoraConfig(rank, alpha, [LoraConfig.AllLinear]));
            manual_seed(7);
            using var _ = no_grad();
            foreach (var b in LoraModel.LoraBParameters(model)) b.copy_(randn_like(b).mul(0.1));
            AdapterExporter.Save(model, adapter, "parent");
        }

        new ModelPromoter(db, Options, store, NullLogger<ModelPromoter>.Instance)
            .Promote(new ModelPromotion(job.Id, "child", tenant.Id, DateTimeOffset.UtcNow));

        var row = await db.BaseModels.AsNoTracking().SingleAsync(m => m.Name == "child");
        Assert.Equal((tenant.Id, "parent", job.Id), (row.OwnerTenantId, row.ParentModel, row.SourceJobId));
        Assert.True(await db.JobEvents.AnyAsync(e => e.JobId == job.Id && e.Type == "promoted"));
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json"))).RootElement;
        var scale = config.GetProperty("lora_alpha").GetDouble() / config.GetProperty("r").GetInt32();
        Assert.Equal(alpha / rank, scale);

        var w0 = SafetensorsReader.ReadAll(Path.Combine(Models, "parent", "model.safetensors"));
        var factors = SafetensorsReader.ReadAll(Path.Combine(adapter, "adapter_model.safetensors"));
        var merged = SafetensorsReader.ReadAll(Path.Combine(Models, "child", "model.safetensors"));
        Assert.Equal(w0.Keys.Order(), merged.Keys.Order());
        var adapted = 0;
        foreach (var (key, weight) in w0)
        {
            var prefix = "base_model.model." + key[..^".weight".Length];
            if (factors.TryGetValue(prefix + ".lora_A.weight", out var a))
            {
                var b = factors[prefix + ".lora_B.weight"];
                var expected = weight.to_type(ScalarType.Float64) + scale * b.to_type(ScalarType.Float64).matmul(a.to_type(ScalarType.Float64));
                Assert.True(merged[key].to_type(ScalarType.Float64).allclose(expected, rtol: 0, atol: 1e-6), key);
                Assert.False(merged[key].eq(weight).all().item<bool>(), $"{key} did not change");
                adapted++;
            }
            else
            {
                Assert.True(merged[key].eq(weight).all().item<bool>(), $"{key} must be the base weight");
            }
        }
        Assert.Equal(2 * 7, adapted);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Models, "parent", "tokenizer.json")), File.ReadAllBytes(Path.Combine(Models, "child", "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(Models, "child", PromotedModelStore.MarkerFile)));

        // The folder sync keeps the promoted row as it is (owner included) and does not add a second.
        new ModelCatalog(db, Options, NullLogger<ModelCatalog>.Instance).Sync();
        db.ChangeTracker.Clear();
        Assert.Equal(tenant.Id, (await db.BaseModels.SingleAsync(m => m.Name == "child")).OwnerTenantId);
    }

    [Fact]
    public async Task A_promotion_that_cannot_merge_leaves_no_model_and_says_why_on_the_job()
    {
        await using var db = _database.CreateContext();
        var (tenant, job, store, adapter) = await SucceededLoraJobOnParentAsync(db);
        Directory.CreateDirectory(adapter);
        File.WriteAllText(Path.Combine(adapter, "adapter_config.json"), """{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}""");
        File.WriteAllText(Path.Combine(adapter, "adapter_model.safetensors"), "not safetensors");

        new ModelPromoter(db, Options, store, NullLogger<ModelPromoter>.Instance)
            .Promote(new ModelPromotion(job.Id, "child", tenant.Id, DateTimeOffset.UtcNow));

        Assert.False(await db.BaseModels.AnyAsync(m => m.Name == "child"));
        Assert.Equal(["parent"], Directory.GetDirectories(Models).Select(Path.GetFileName));
        var failed = await db.JobEvents.SingleAsync(e => e.JobId == job.Id && e.Type == "promotion_failed");
        Assert.Equal("error", failed.Level);
    }
}
