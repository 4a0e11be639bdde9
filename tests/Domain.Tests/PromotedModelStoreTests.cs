using LoraService.Domain.Models;
using LoraService.Domain.Tenants;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Domain.Tests;

/// <summary>Installing a promoted model never leaves half of it behind: no folder without a row, no row without a folder, no temp folder.</summary>
public sealed class PromotedModelStoreTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private readonly string _models = Directory.CreateTempSubdirectory("lora-promoted-").FullName;
    private Tenant _tenant = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync();
        _tenant = new Tenant { Name = "owner" };
        await using var db = _database.CreateContext();
        db.Tenants.Add(_tenant);
        await db.SaveChangesAsync();
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_models, recursive: true);
    }

    private BaseModel Row(string name) => new BaseModel { Name = "parent", Architecture = "LlamaForCausalLM", Dtype = "float32" }
        .PromotedAs(name, _tenant.Id, Guid.NewGuid(), DateTimeOffset.UtcNow);

    private static void WriteCheckpoint(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
    }

    [Fact]
    public async Task An_installed_model_has_its_folder_marker_and_row()
    {
        await using var db = _database.CreateContext();
        PromotedModelStore.Install(db, _models, Row("ok"), WriteCheckpoint);

        Assert.True(File.Exists(Path.Combine(_models, "ok", "config.json")));
        Assert.Contains("\"parent_model\":\"parent\"", File.ReadAllText(Path.Combine(_models, "ok", PromotedModelStore.MarkerFile)));
        var row = await db.BaseModels.AsNoTracking().SingleAsync(m => m.Name == "ok");
        Assert.Equal((_tenant.Id, "parent"), (row.OwnerTenantId, row.ParentModel));
        Assert.Empty(Directory.GetDirectories(_models, ".*"));
    }

    [Fact]
    public async Task A_copy_that_fails_half_way_leaves_no_folder_and_no_row()
    {
        await using var db = _database.CreateContext();
        var failure = Assert.Throws<IOException>(() => PromotedModelStore.Install(db, _models, Row("broken"), folder =>
        {
            WriteCheckpoint(folder);
            throw new IOException("disk full");
        }));

        Assert.Equal("disk full", failure.Message);
        Assert.Empty(Directory.GetDirectories(_models));
        Assert.False(await db.BaseModels.AnyAsync(m => m.Name == "broken"));
    }

    [Fact]
    public async Task A_row_that_cannot_be_inserted_takes_its_folder_with_it()
    {
        // A row holds the name without a folder (as a concurrent registration would): the rename succeeds, the insert fails.
        await using (var seed = _database.CreateContext())
        {
            seed.BaseModels.Add(new BaseModel { Name = "raced", Architecture = "LlamaForCausalLM", Dtype = "float32" });
            await seed.SaveChangesAsync();
        }
        await using var db = _database.CreateContext();
        Assert.Throws<ModelNameTakenException>(() => PromotedModelStore.Install(db, _models, Row("raced"), WriteCheckpoint));

        Assert.Empty(Directory.GetDirectories(_models));
        Assert.Null(await db.BaseModels.AsNoTracking().Where(m => m.Name == "raced").Select(m => m.OwnerTenantId).SingleAsync());
    }

    [Fact]
    public async Task An_existing_folder_is_never_overwritten()
    {
        WriteCheckpoint(Path.Combine(_models, "there"));
        File.WriteAllText(Path.Combine(_models, "there", "config.json"), "original");
        await using var db = _database.CreateContext();

        Assert.Throws<ModelNameTakenException>(() => PromotedModelStore.Install(db, _models, Row("there"), WriteCheckpoint));

        Assert.Equal("original", File.ReadAllText(Path.Combine(_models, "there", "config.json")));
        Assert.Equal(["there"], Directory.GetDirectories(_models).Select(Path.GetFileName));
        Assert.False(await db.BaseModels.AnyAsync(m => m.Name == "there"));
    }
}
