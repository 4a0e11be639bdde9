using System.Text.Json.Nodes;
using LoraService.Contracts.Jobs;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Tokenization;

namespace LoraService.Training.Models;

/// <summary>What a checkpoint folder holds, read from config.json and the safetensors headers (no weights are loaded).</summary>
public sealed record ModelInfo(
    string Architecture,
    long Parameters,
    int Layers,
    int HiddenSize,
    int VocabSize,
    int MaxPositions,
    string Dtype,
    bool HasTokenizer,
    IReadOnlyList<string> LoraTargets,
    string? ChatTemplate,
    string? NameOrPath)
{
    /// <summary>What the job-spec validator knows of this model; <paramref name="name"/> is what users load it by.</summary>
    public ModelFacts Facts(string name) => new(name, Architecture, Parameters, HiddenSize, MaxPositions, LoraTargets, ChatTemplate);
}

public static class ModelInspector
{
    public static ModelInfo Inspect(string directory)
    {
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        long parameters = 0;
        foreach (var file in CheckpointLoader.WeightFiles(directory))
        {
            using var reader = SafetensorsReader.Open(file);
            parameters += reader.Tensors.Values
                .Where(t => !t.Name.EndsWith(".attn.bias", StringComparison.Ordinal) && !t.Name.EndsWith(".masked_bias", StringComparison.Ordinal))
                .Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
        }
        return new ModelInfo(config.Architecture, parameters, config.NumLayers, config.HiddenSize, config.VocabSize,
            config.MaxPositions, config.TorchDtype, File.Exists(Path.Combine(directory, "tokenizer.json")), LoraModel.KnownTargets(config),
            ChatTemplates.Recognise(HfTokenizer.ReadChatTemplate(directory)), RecordedName(directory));
    }

    /// <summary>The Hub id or name transformers recorded as <c>_name_or_path</c>; null when absent or a local path.</summary>
    private static string? RecordedName(string directory)
    {
        var recorded = (JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")))?["_name_or_path"] as JsonValue)?.GetValue<string>();
        return string.IsNullOrWhiteSpace(recorded) || Path.IsPathRooted(recorded) || recorded.StartsWith('.') ? null : recorded;
    }
}
