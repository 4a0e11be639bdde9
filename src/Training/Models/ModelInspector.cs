using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Contracts.Jobs;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Tokenization;

namespace LoraService.Training.Models;

/// <summary>What a checkpoint folder holds, read from config.json and the safetensors headers (no weights are loaded).</summary>
/// <param name="Supported">False when the engine cannot compute the model exactly; <paramref name="UnsupportedReason"/> says why.</param>
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
    string? NameOrPath,
    bool Supported = true,
    string? UnsupportedReason = null)
{
    /// <summary>What the job-spec validator knows of this model; <paramref name="name"/> is what users load it by.</summary>
    public ModelFacts Facts(string name) =>
        new(name, Architecture, Parameters, HiddenSize, MaxPositions, LoraTargets, ChatTemplate, Supported, UnsupportedReason);
}

public static class ModelInspector
{
    /// <summary>
    /// The folder's model. A config this engine refuses (<see cref="UnsupportedArchitectureException"/>) gives an
    /// unsupported model with the reason and what the raw config says; a folder that cannot be read at all throws.
    /// </summary>
    public static ModelInfo Inspect(string directory)
    {
        var configPath = Path.Combine(directory, "config.json");
        var raw = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new FormatException($"{configPath}: not a JSON object");
        var parameters = CountParameters(directory);
        var hasTokenizer = File.Exists(Path.Combine(directory, "tokenizer.json"));
        var chatTemplate = ChatTemplates.Recognise(HfTokenizer.ReadChatTemplate(directory));
        ModelConfig config;
        try
        {
            config = ModelConfig.Parse(raw.ToJsonString(), "config.json");
        }
        catch (UnsupportedArchitectureException e)
        {
            int Raw(params string[] keys) => keys.Select(k => raw[k] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? (int)v.GetValue<double>() : 0).Max();
            var architecture = (raw["architectures"] as JsonArray)?.FirstOrDefault()?.ToString() ?? raw["model_type"]?.ToString() ?? "unknown";
            return new ModelInfo(architecture, parameters, Raw("num_hidden_layers", "n_layer"), Raw("hidden_size", "n_embd"), Raw("vocab_size"),
                Raw("max_position_embeddings", "n_positions"), raw["torch_dtype"]?.ToString() ?? raw["dtype"]?.ToString() ?? "unknown",
                hasTokenizer, [], chatTemplate, RecordedName(raw), Supported: false, UnsupportedReason: e.Message);
        }
        return new ModelInfo(config.Architecture, parameters, config.NumLayers, config.HiddenSize, config.VocabSize,
            config.MaxPositions, config.TorchDtype, hasTokenizer, LoraModel.KnownTargets(config), chatTemplate, RecordedName(raw));
    }

    static long CountParameters(string directory)
    {
        long parameters = 0;
        foreach (var file in CheckpointLoader.WeightFiles(directory))
        {
            using var reader = SafetensorsReader.Open(file);
            parameters += reader.Tensors.Values
                .Where(t => !t.Name.EndsWith(".attn.bias", StringComparison.Ordinal) && !t.Name.EndsWith(".masked_bias", StringComparison.Ordinal))
                .Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
        }
        return parameters;
    }

    /// <summary>The Hub id or name transformers recorded as <c>_name_or_path</c>; null when absent or a local path.</summary>
    private static string? RecordedName(JsonObject config)
    {
        var recorded = (config["_name_or_path"] as JsonValue)?.GetValue<string>();
        return string.IsNullOrWhiteSpace(recorded) || Path.IsPathRooted(recorded) || recorded.StartsWith('.') ? null : recorded;
    }
}
