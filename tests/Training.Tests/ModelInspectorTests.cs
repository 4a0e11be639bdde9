using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Training.Models;

namespace LoraService.Training.Tests;

public sealed class ModelInspectorTests
{
    [Theory]
    [MemberData(nameof(Golden.All), MemberType = typeof(Golden))]
    public void Every_golden_checkpoint_is_supported_with_its_architectures_lora_targets(string name)
    {
        var info = ModelInspector.Inspect(Golden.Dir(name));
        Assert.True(info.Supported, info.UnsupportedReason);
        Assert.Null(info.UnsupportedReason);
        Assert.Equal(LoraModel.KnownTargets(ModelConfig.Load(Path.Combine(Golden.Dir(name), "config.json"))), info.LoraTargets);
    }

    [Fact]
    public void A_refused_config_field_makes_the_model_unsupported_with_the_reason_and_the_load_refuses_it_too()
    {
        using var dir = new TempDir();
        foreach (var file in Directory.GetFiles(Golden.Dir("llama-rope-llama3")))
            File.Copy(file, Path.Combine(dir.Path, Path.GetFileName(file)));
        var configPath = Path.Combine(dir.Path, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["rope_scaling"]!["rope_type"] = "longrope";
        File.WriteAllText(configPath, config.ToJsonString());

        var info = ModelInspector.Inspect(dir.Path);
        Assert.False(info.Supported);
        Assert.Contains("rope_scaling.rope_type: longrope", info.UnsupportedReason);
        Assert.Equal(("LlamaForCausalLM", 2, 64, 128), (info.Architecture, info.Layers, info.HiddenSize, info.VocabSize));
        Assert.True(info.Parameters > 0);
        Assert.Empty(info.LoraTargets);
        var facts = info.Facts("m");
        Assert.Equal((false, info.UnsupportedReason), (facts.Supported, facts.UnsupportedReason));
        Assert.Equal("rope_scaling.rope_type", Assert.Throws<UnsupportedArchitectureException>(() => CheckpointLoader.Load(dir.Path)).Field);
    }
}
