using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class AdapterExportTests
{
    static readonly (string Key, long[] Shape)[] LlamaKeys =
    [
        ("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight", [4, 176]),
        ("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight", [64, 4]),
        ("base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight", [176, 4]),
        ("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.0.mlp.up_proj.lora_B.weight", [176, 4]),
        ("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight", [32, 4]),
        ("base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.0.self_attn.o_proj.lora_B.weight", [64, 4]),
        ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", [64, 4]),
        ("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", [32, 4]),
        ("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight", [4, 176]),
        ("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", [64, 4]),
        ("base_model.model.model.layers.1.mlp.gate_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight", [176, 4]),
        ("base_model.model.model.layers.1.mlp.up_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.1.mlp.up_proj.lora_B.weight", [176, 4]),
        ("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight", [32, 4]),
        ("base_model.model.model.layers.1.self_attn.o_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight", [64, 4]),
        ("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight", [64, 4]),
        ("base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", [4, 64]),
        ("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", [32, 4]),
    ];

    static readonly (string Key, long[] Shape)[] Gpt2Keys =
    [
        ("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", [4, 64]),
        ("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight", [192, 4]),
        ("base_model.model.transformer.h.0.attn.c_proj.lora_A.weight", [4, 64]),
        ("base_model.model.transformer.h.0.attn.c_proj.lora_B.weight", [64, 4]),
        ("base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight", [4, 64]),
        ("base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight", [256, 4]),
        ("base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight", [4, 256]),
        ("base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight", [64, 4]),
        ("base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", [4, 64]),
        ("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight", [192, 4]),
        ("base_model.model.transformer.h.1.attn.c_proj.lora_A.weight", [4, 64]),
        ("base_model.model.transformer.h.1.attn.c_proj.lora_B.weight", [64, 4]),
        ("base_model.model.transformer.h.1.mlp.c_fc.lora_A.weight", [4, 64]),
        ("base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight", [256, 4]),
        ("base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight", [4, 256]),
        ("base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight", [64, 4]),
    ];

    static CausalLM AdaptedModel(ModelConfig config, LoraConfig lora, long seed = 1)
    {
        var model = ModelFactory.CreateRandom(config, seed);
        LoraModel.Apply(model, lora);
        manual_seed(seed + 100);
        using var _ = no_grad();
        foreach (var b in LoraModel.LoraBParameters(model))
            b.copy_(randn_like(b).mul(0.05));
        return model;
    }

    [Fact]
    public void Llama_adapter_keys_and_shapes_are_peft_names()
    {
        using var dir = new TempDir();
        using var model = AdaptedModel(ModelFactory.TinyLlama(), new LoraConfig(4, 8, [LoraConfig.AllLinear], Dropout: 0.05));
        AdapterExporter.Save(model, dir.Path, "tiny-llama");

        using var reader = SafetensorsReader.Open(Path.Combine(dir.Path, "adapter_model.safetensors"));
        Assert.Equal("pt", reader.Metadata["format"]);
        Assert.Equal(LlamaKeys.Select(k => k.Key), reader.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, shape) in LlamaKeys)
            Assert.Equal(shape, reader.Tensors[key].Shape);

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")));
        var root = config.RootElement;
        Assert.Equal(
            ["base_model_name_or_path", "bias", "fan_in_fan_out", "inference_mode", "init_lora_weights", "lora_alpha", "lora_dropout",
             "modules_to_save", "peft_type", "r", "target_modules", "task_type", "use_dora", "use_rslora"],
            root.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("LORA", root.GetProperty("peft_type").GetString());
        Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());
        Assert.Equal(4, root.GetProperty("r").GetInt32());
        Assert.Equal(8, root.GetProperty("lora_alpha").GetDouble());
        Assert.Equal(0.05, root.GetProperty("lora_dropout").GetDouble());
        Assert.False(root.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.True(root.GetProperty("inference_mode").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("modules_to_save").ValueKind);
        Assert.Equal(["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"],
            root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Gpt2_adapter_keys_and_shapes_are_peft_names_with_fan_in_fan_out()
    {
        using var dir = new TempDir();
        using var model = AdaptedModel(ModelFactory.TinyGpt2(), new LoraConfig(4, 8, ["c_attn", "c_proj", "c_fc"]));
        AdapterExporter.Save(model, dir.Path, "tiny-gpt2");

        using var reader = SafetensorsReader.Open(Path.Combine(dir.Path, "adapter_model.safetensors"));
        Assert.Equal(Gpt2Keys.Select(k => k.Key), reader.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, shape) in Gpt2Keys)
            Assert.Equal(shape, reader.Tensors[key].Shape);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")));
        Assert.True(config.RootElement.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.Equal(["c_attn", "c_fc", "c_proj"], config.RootElement.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Export_then_import_onto_a_fresh_base_reproduces_the_adapted_logits(bool gpt2)
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var config = gpt2 ? ModelFactory.TinyGpt2() : ModelFactory.TinyLlama();
        using var adapted = AdaptedModel(config, new LoraConfig(4, 16, [LoraConfig.AllLinear], UseRsLora: true));
        var ids = randint(0, 257, [1, 10]);
        using var _ = no_grad();
        var expected = adapted.call(ids);
        AdapterExporter.Save(adapted, dir.Path, "base");

        using var fresh = ModelFactory.CreateRandom(config, seed: 1);
        Assert.False(fresh.call(ids).allclose(expected, rtol: 0, atol: 1e-4));
        var loaded = AdapterImporter.Load(fresh, dir.Path);

        Assert.Equal(LoraModel.Adapted(adapted).Select(a => a.Path).Order(), loaded);
        Assert.True(fresh.call(ids).allclose(expected, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Importing_an_adapter_whose_keys_match_no_module_fails_naming_them()
    {
        using var dir = new TempDir();
        using var llama = AdaptedModel(ModelFactory.TinyLlama(), new LoraConfig(4, 8, ["q_proj"]));
        AdapterExporter.Save(llama, dir.Path, "tiny-llama");
        using var gpt2 = ModelFactory.CreateRandom(ModelFactory.TinyGpt2(), seed: 1);

        var e = Assert.Throws<AdapterMismatchException>(() => AdapterImporter.Load(gpt2, dir.Path));
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", e.Message);
        Assert.Empty(LoraModel.Adapted(gpt2));
    }

    [Fact]
    public void Importing_keys_without_the_peft_prefix_fails()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var llama = AdaptedModel(ModelFactory.TinyLlama(), new LoraConfig(4, 8, ["q_proj"]));
        AdapterExporter.Save(llama, dir.Path, "tiny-llama");
        var file = Path.Combine(dir.Path, "adapter_model.safetensors");
        var renamed = SafetensorsReader.ReadAll(file).ToDictionary(kv => kv.Key.Replace("base_model.model.", ""), kv => kv.Value);
        SafetensorsWriter.Write(file, renamed);
        using var fresh = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);

        var e = Assert.Throws<AdapterMismatchException>(() => AdapterImporter.Load(fresh, dir.Path));
        Assert.Contains("match no module", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merged_export_loads_as_a_plain_checkpoint_with_the_adapted_logits(bool gpt2)
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var config = gpt2 ? ModelFactory.TinyGpt2() : ModelFactory.TinyLlama();
        var baseDir = dir["base"];
        ModelFactory.WriteCheckpoint(baseDir, config, seed: 4);
        using var model = CheckpointLoader.Load(baseDir);
        LoraModel.Apply(model, new LoraConfig(8, 16, [LoraConfig.AllLinear]));
        manual_seed(6);
        using (no_grad())
            foreach (var b in LoraModel.LoraBParameters(model))
                b.copy_(randn_like(b).mul(0.05));
        var ids = randint(0, 257, [1, 12]);
        using var _ = no_grad();
        var expected = model.call(ids);

        CheckpointExporter.Save(model, dir["merged"], baseDir);
        using var merged = CheckpointLoader.Load(dir["merged"], out var report);

        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Empty(LoraModel.Adapted(merged));
        Assert.True(merged.call(ids).allclose(expected, rtol: 0, atol: 1e-5));
        Assert.True(File.Exists(Path.Combine(dir["merged"], "tokenizer.json")));
        using var reader = SafetensorsReader.Open(Path.Combine(dir["merged"], "model.safetensors"));
        Assert.DoesNotContain(reader.Tensors.Keys, k => k.Contains("lora"));
    }

    [Fact]
    public void Exporting_a_model_without_adapters_is_refused()
    {
        using var dir = new TempDir();
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);
        Assert.Throws<InvalidOperationException>(() => AdapterExporter.Save(model, dir.Path, "x"));
    }
}

public sealed class FullFineTuneExportTests
{
    [Fact]
    public void Full_fine_tune_export_is_a_checkpoint_holding_the_updated_weights_and_base_files()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var baseDir = dir["base"];
        ModelFactory.WriteCheckpoint(baseDir, ModelFactory.TinyGpt2(), seed: 2);
        using var model = CheckpointLoader.Load(baseDir);
        FullFineTune.Prepare(model);
        manual_seed(1);
        using (no_grad())
            foreach (var p in model.parameters())
                p.add_(randn_like(p).mul(0.01));
        var ids = randint(0, 257, [1, 9]);
        using var _ = no_grad();
        var expected = model.call(ids);

        CheckpointExporter.Save(model, dir["full"], baseDir);
        using var reloaded = CheckpointLoader.Load(dir["full"]);

        Assert.True(reloaded.call(ids).allclose(expected, rtol: 0, atol: 1e-6));
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            Assert.Equal(File.ReadAllText(Path.Combine(baseDir, file)), File.ReadAllText(Path.Combine(dir["full"], file)));
    }
}
