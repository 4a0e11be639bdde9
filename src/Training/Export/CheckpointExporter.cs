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

    /// <summary>The model's weights under HF keys, adapters merged, adapter factors left out.</summary>
    public static Dictionary<string, Tensor> MergedStateDict(CausalLM model, ScalarType? dtype = null)
    {
        var merged = new Dictionary<string, Tensor>();
        var projections = model.Projections().ToDictionary(p => p.Path + ".weight", p => p.Module);
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (LoraModel.IsLoraA(name) || LoraModel.IsLoraB(name))
                continue;
            var value = projections.TryGetValue(name, out var projection) ? projection.MergedWeight() : parameter.detach();
            merged[name] = dtype is { } t ? value.to_type(t) : value;
        }
        return merged;
    }

    public static void Save(CausalLM model, string directory, string? baseModelDirectory = null, ScalarType? dtype = null)
    {
        Directory.CreateDirectory(directory);
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Write(Path.Combine(directory, CheckpointLoader.SingleFile), MergedStateDict(model, dtype));
        // Keep every field of the base config (transformers reads more than ModelConfig holds); only the dtype changes.
        var torchDtype = DTypeName(dtype ?? model.parameters().First().dtype);
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

    static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };
}
