using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>LoRA on the golden checkpoints of each architecture: PEFT's module names and shapes, and a faithful round trip.</summary>
public sealed class ArchitectureAdapterTests
{
    // Per layer: module path under model.layers.N, A's [r, in] and B's [out, r] for r = 4 (shapes from each golden config).
    public static TheoryData<string, string[], string> Expected => new()
    {
        // Phi-3: PEFT targets the fused projections themselves (rows q|k|v = 64+32+32, gate|up = 176+176).
        { "phi3-f32", ["mlp.down_proj 176 64", "mlp.gate_up_proj 64 352", "self_attn.o_proj 64 64", "self_attn.qkv_proj 64 128"],
            "down_proj,gate_up_proj,o_proj,qkv_proj" },
        // Qwen3: head_dim 32 × 4 heads = 128 query rows; q_norm/k_norm are not linear and get no adapter.
        { "qwen3-f32", ["mlp.down_proj 160 64", "mlp.gate_proj 64 160", "mlp.up_proj 64 160", "self_attn.k_proj 64 64",
            "self_attn.o_proj 128 64", "self_attn.q_proj 64 128", "self_attn.v_proj 64 64"],
            "down_proj,gate_proj,k_proj,o_proj,q_proj,up_proj,v_proj" },
        { "mistral-f32", ["mlp.down_proj 176 64", "mlp.gate_proj 64 176", "mlp.up_proj 64 176", "self_attn.k_proj 64 32",
            "self_attn.o_proj 64 64", "self_attn.q_proj 64 64", "self_attn.v_proj 64 32"],
            "down_proj,gate_proj,k_proj,o_proj,q_proj,up_proj,v_proj" },
        { "llama-headdim-mlpbias", ["mlp.down_proj 176 64", "mlp.gate_proj 64 176", "mlp.up_proj 64 176", "self_attn.k_proj 64 64",
            "self_attn.o_proj 128 64", "self_attn.q_proj 64 128", "self_attn.v_proj 64 64"],
            "down_proj,gate_proj,k_proj,o_proj,q_proj,up_proj,v_proj" },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public void All_linear_adapter_uses_peft_module_names_and_shapes(string golden, string[] modules, string targets)
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(Golden.Dir(golden));
        LoraModel.Apply(model, new LoraConfig(4, 8, [LoraConfig.AllLinear]));
        AdapterExporter.Save(model, dir.Path, golden);

        var expected = (from layer in new[] { 0, 1 }
                        from m in modules.Select(m => m.Split(' '))
                        from f in new[] { ("lora_A", new long[] { 4, long.Parse(m[1]) }), ("lora_B", [long.Parse(m[2]), 4]) }
                        select ($"base_model.model.model.layers.{layer}.{m[0]}.{f.Item1}.weight", f.Item2))
                       .OrderBy(k => k.Item1, StringComparer.Ordinal).ToList();
        using var reader = SafetensorsReader.Open(Path.Combine(dir.Path, PeftNames.WeightsFile));
        Assert.Equal(expected.Select(e => e.Item1), reader.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, shape) in expected)
            Assert.Equal(shape, reader.Tensors[key].Shape);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, PeftNames.ConfigFile)));
        Assert.Equal(targets.Split(','), config.RootElement.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Phi3_adapter_round_trips_onto_a_fresh_base()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var adapted = CheckpointLoader.Load(Golden.Dir("phi3-f32"));
        LoraModel.Apply(adapted, new LoraConfig(4, 8, ["qkv_proj", "gate_up_proj"]));
        manual_seed(7);
        using var _ = no_grad();
        foreach (var b in LoraModel.LoraBParameters(adapted))
            b.copy_(randn_like(b).mul(0.05));
        var ids = tensor(Golden.Reference("phi3-f32").Ids).unsqueeze(0);
        var expected = adapted.call(ids);
        AdapterExporter.Save(adapted, dir.Path, "phi3");

        using var fresh = CheckpointLoader.Load(Golden.Dir("phi3-f32"));
        AdapterImporter.Load(fresh, dir.Path);
        Assert.True(fresh.call(ids).allclose(expected, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Phi3_refuses_unfused_target_names_and_lists_its_own()
    {
        using var model = CheckpointLoader.Load(Golden.Dir("phi3-f32"));
        var e = Assert.Throws<ArgumentException>(() => LoraModel.Apply(model, new LoraConfig(4, 8, ["q_proj"])));
        Assert.Contains("qkv_proj", e.Message);
        Assert.Equal(LoraModel.Phi3Targets, LoraModel.KnownTargets(model.Config));
    }
}
