using LoraService.Domain.Models;
using LoraService.ServiceDefaults;
using LoraService.TestSupport;
using LoraService.Worker.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace LoraService.Worker.Tests;

public sealed class ModelCatalogTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private readonly string _models = Directory.CreateTempSubdirectory("lora-models-").FullName;

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync();

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_models, recursive: true);
    }

    private ModelCatalog Catalog(Domain.Persistence.LoraDbContext db) =>
        new(db, new LoraOptions { ModelsPath = _models }, NullLogger<ModelCatalog>.Instance);

    [Fact]
    public async Task A_created_model_is_written_in_hf_layout_and_registered_and_a_removed_one_disappears()
    {
        await using (var db = _database.CreateContext())
        {
            Catalog(db).CreateRandom(new NewModelSpec("tiny-gpt2", "gpt2", HiddenSize: 32, Layers: 2, Heads: 4, MaxPositions: 64));
            Catalog(db).CreateRandom(new NewModelSpec("tiny-llama", HiddenSize: 32, Layers: 3, Heads: 4, KeyValueHeads: 2));
        }
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json" })
            Assert.True(File.Exists(Path.Combine(_models, "tiny-llama", file)), file);
        Assert.Empty(Directory.GetDirectories(_models, ".*"));

        await using (var db = _database.CreateContext())
        {
            var models = await db.BaseModels.OrderBy(m => m.Name).ToListAsync();
            Assert.Equal(["tiny-gpt2", "tiny-llama"], models.Select(m => m.Name));
            var gpt2 = models[0];
            Assert.Equal(("GPT2LMHeadModel", 2, 32, 257, 64, true), (gpt2.Architecture, gpt2.Layers, gpt2.HiddenSize, gpt2.VocabSize, gpt2.MaxPositions, gpt2.HasTokenizer));
            Assert.Equal(["c_attn", "c_proj", "c_fc"], gpt2.LoraTargets);
            // wte 257·32 + wpe 64·32 + per layer (ln 2·2·32 + c_attn 32·96+96 + attn c_proj 32·32+32 + c_fc 32·128+128 + mlp c_proj 128·32+32) + ln_f 2·32
            var perLayer = 4 * 32 + (32 * 96 + 96) + (32 * 32 + 32) + (32 * 128 + 128) + (128 * 32 + 32);
            Assert.Equal(257 * 32 + 64 * 32 + 2 * perLayer + 2 * 32, gpt2.Parameters);
            Assert.Equal(3, models[1].Layers);
        }

        Directory.Delete(Path.Combine(_models, "tiny-gpt2"), recursive: true);
        await using (var db = _database.CreateContext())
        {
            Catalog(db).Sync();
            Assert.Equal(["tiny-llama"], await db.BaseModels.Select(m => m.Name).ToListAsync());
        }
    }

    [Fact]
    public async Task A_broken_folder_is_listed_as_unsupported_with_the_reason_not_fatal()
    {
        var broken = Directory.CreateDirectory(Path.Combine(_models, "broken")).FullName;
        await File.WriteAllTextAsync(Path.Combine(broken, "config.json"), "{\"model_type\": \"mamba\"}");
        await using var db = _database.CreateContext();
        Catalog(db).Sync();
        var row = Assert.Single(await db.BaseModels.ToListAsync());
        Assert.Equal("broken", row.Name);
        Assert.False(row.Supported);
        Assert.Contains("cannot be read", row.UnsupportedReason);
    }

    [Fact]
    public async Task A_model_with_a_config_field_the_engine_does_not_compute_is_unsupported_naming_it()
    {
        await using (var db = _database.CreateContext())
            Catalog(db).CreateRandom(new NewModelSpec("tiny-llama", HiddenSize: 32, Layers: 2, Heads: 4));
        var configPath = Path.Combine(_models, "tiny-llama", "config.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(configPath))!.AsObject();
        config["rope_scaling"] = new System.Text.Json.Nodes.JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 };
        await File.WriteAllTextAsync(configPath, config.ToJsonString());

        await using (var db = _database.CreateContext())
        {
            Catalog(db).Sync();
            var row = await db.BaseModels.SingleAsync();
            Assert.False(row.Supported);
            Assert.Contains("rope_scaling.rope_type: yarn", row.UnsupportedReason);
            Assert.Equal(("LlamaForCausalLM", 2, 32), (row.Architecture, row.Layers, row.HiddenSize));
            Assert.Empty(row.LoraTargets);
            Assert.False(row.Facts().Supported);
        }
    }
}
