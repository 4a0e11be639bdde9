using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class CheckpointLoaderTests
{
    static string CopyGolden(string name, TempDir dir)
    {
        var target = dir[name];
        Directory.CreateDirectory(target);
        foreach (var f in Directory.GetFiles(Golden.Dir(name)))
            File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        return target;
    }

    [Fact]
    public void Sharded_and_single_file_checkpoints_load_to_identical_weights()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var single = Golden.Dir("llama-f32");
        var sharded = dir["sharded"];
        Directory.CreateDirectory(sharded);
        File.Copy(Path.Combine(single, "config.json"), Path.Combine(sharded, "config.json"));
        var all = SafetensorsReader.ReadAll(Path.Combine(single, "model.safetensors"));
        var names = all.Keys.Order().ToList();
        var weightMap = new Dictionary<string, string>();
        for (var s = 0; s < 3; s++)
        {
            var file = $"model-{s + 1:00000}-of-00003.safetensors";
            var part = names.Where((_, i) => i % 3 == s).ToDictionary(n => n, n => all[n]);
            SafetensorsWriter.Write(Path.Combine(sharded, file), part);
            foreach (var n in part.Keys)
                weightMap[n] = file;
        }
        File.WriteAllText(Path.Combine(sharded, CheckpointLoader.IndexFile),
            JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = weightMap }));

        using var a = CheckpointLoader.Load(single);
        using var b = CheckpointLoader.Load(sharded);

        Assert.Equal(3, CheckpointLoader.WeightFiles(sharded).Count);
        var sa = a.state_dict();
        var sb = b.state_dict();
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var (k, v) in sa)
            Assert.True(v.eq(sb[k]).all().item<bool>(), k);
    }

    [Fact]
    public void Bf16_checkpoint_is_upcast_to_float32_on_cpu()
    {
        using var model = CheckpointLoader.Load(Golden.Dir("llama-gqa-tied-bf16-sharded"));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.Equal(ScalarType.BFloat16, CheckpointLoader.ComputeDType(DeviceType.CUDA, "bfloat16"));
        Assert.Equal(ScalarType.Float32, CheckpointLoader.ComputeDType(DeviceType.CPU, "bfloat16"));
    }

    [Fact]
    public void A_missing_tensor_is_reported_by_name()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var target = CopyGolden("llama-f32", dir);
        var all = SafetensorsReader.ReadAll(Path.Combine(target, "model.safetensors"));
        all.Remove("model.layers.1.mlp.up_proj.weight");
        SafetensorsWriter.Write(Path.Combine(target, "model.safetensors"), all);

        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(target));
        Assert.Equal(["model.layers.1.mlp.up_proj.weight"], e.Report.Missing);
        Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message);
    }

    [Fact]
    public void An_unexpected_tensor_is_reported_by_name()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var target = CopyGolden("qwen2-f32", dir);
        var all = SafetensorsReader.ReadAll(Path.Combine(target, "model.safetensors"));
        all["model.layers.0.self_attn.o_proj.bias"] = zeros(64);
        SafetensorsWriter.Write(Path.Combine(target, "model.safetensors"), all);

        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(target));
        Assert.Equal(["model.layers.0.self_attn.o_proj.bias"], e.Report.Unexpected);
        Assert.Empty(e.Report.Missing);
    }

    [Fact]
    public void Gpt2_hub_layout_without_prefix_and_with_mask_buffers_gives_the_same_logits()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var target = CopyGolden("gpt2-f32", dir);
        var all = SafetensorsReader.ReadAll(Path.Combine(target, "model.safetensors"));
        var hub = all.ToDictionary(kv => kv.Key["transformer.".Length..], kv => kv.Value);
        for (var i = 0; i < 2; i++)
        {
            hub[$"h.{i}.attn.bias"] = ones(1, 1, 64, 64).tril();
            hub[$"h.{i}.attn.masked_bias"] = tensor(-1e4f);
        }
        SafetensorsWriter.Write(Path.Combine(target, "model.safetensors"), hub);

        using var model = CheckpointLoader.Load(target, out var report);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Equal(4, report.Ignored.Count);
        var (ids, expected) = Golden.Reference("gpt2-f32");
        using var _ = no_grad();
        Assert.True(model.call(tensor(ids).unsqueeze(0)).allclose(expected, rtol: 0, atol: 2e-5));
    }

    [Fact]
    public void A_shape_mismatch_names_the_tensor()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var target = CopyGolden("llama-f32", dir);
        var config = File.ReadAllText(Path.Combine(target, "config.json")).Replace("\"intermediate_size\": 176", "\"intermediate_size\": 160");
        File.WriteAllText(Path.Combine(target, "config.json"), config);

        var e = Assert.Throws<FormatException>(() => CheckpointLoader.Load(target));
        Assert.Contains("mlp", e.Message);
    }
}
