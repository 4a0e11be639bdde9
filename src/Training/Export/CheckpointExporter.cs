using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Export;

/// <summary>
/// Writes a plain Hugging Face checkpoint from a model: full fine-tunes as they are, LoRA models with the
/// adapters merged (<c>W0 + s·B·A</c>, transposed for Conv1D). Tokenizer and generation files are copied
/// from the base model's directory.
/// </summary>
public static class CheckpointExporter
{
    static readonly string[] CopiedFiles =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer.model"];

    /// <summary>
    /// The model's weights under HF keys, adapters merged and adapter factors left out, each computed only
    /// when the writer reaches it (a merged copy of the whole model is never held in memory).
    /// </summary>
    public static IReadOnlyList<PendingTensor> MergedTensors(CausalLM model, ScalarType dtype)
    {
        var projections = model.Projections().ToDictionary(p => p.Path + ".weight", p => p.Module);
        var pending = new List<PendingTensor>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (LoraModel.IsLoraA(name) || LoraModel.IsLoraB(name))
                continue;
            var projection = projections.GetValueOrDefault(name);
            pending.Add(new PendingTensor(name, dtype, parameter.shape, () =>
            {
                using var _ = no_grad();
                return projection is not null ? projection.MergedWeight() : parameter.detach();
            }));
        }
        return pending;
    }

    /// <summary>
    /// Writes the checkpoint in <paramref name="dtype"/>, by default the base model's own (a bf16 model trained
    /// in float32 on CPU is exported in bf16, as transformers would save it), sharded above <paramref name="maxShardBytes"/>.
    /// </summary>
    public static void Save(CausalLM model, string directory, string? baseModelDirectory = null, ScalarType? dtype = null,
        long maxShardBytes = ShardedSafetensors.DefaultMaxShardBytes)
    {
        Directory.CreateDirectory(directory);
        var type = dtype ?? DTypeOf(model.Config.TorchDtype) ?? model.parameters().First().dtype;
        ShardedSafetensors.Write(directory, MergedTensors(model, type), maxShardBytes);
        var torchDtype = DTypeName(type);
        // Keep every field of the base config (transformers reads more than ModelConfig holds); only the dtype changes.
        var sourceConfig = baseModelDirectory is null ? null : Path.Combine(baseModelDirectory, "config.json");
        var config = sourceConfig is not null && File.Exists(sourceConfig)
            ? JsonNode.Parse(File.ReadAllText(sourceConfig))!.AsObject()
            : JsonNode.Parse((model.Config with { TorchDtype = torchDtype }).ToHfJson())!.AsObject();
        config.Remove("dtype");
        config["torch_dtype"] = torchDtype;
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (baseModelDirectory is null)
            return;
        foreach (var file in CopiedFiles)
        {
            var source = Path.Combine(baseModelDirectory, file);
            if (File.Exists(source))
                AtomicFile.Copy(source, Path.Combine(directory, file));
        }
    }

    static ScalarType? DTypeOf(string torchDtype) => torchDtype switch
    {
        "bfloat16" => ScalarType.BFloat16,
        "float16" => ScalarType.Float16,
        "float32" => ScalarType.Float32,
        _ => null,
    };

    static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };
}
