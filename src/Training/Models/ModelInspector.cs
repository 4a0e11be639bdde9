using LoraService.Training.Checkpoints;

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
    IReadOnlyList<string> LoraTargets);

public static class ModelInspector
{
    public static readonly string[] LlamaTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    public static readonly string[] Gpt2Targets = ["c_attn", "c_proj", "c_fc"];

    public static IReadOnlyList<string> TargetsFor(ModelFamily family) => family == ModelFamily.Gpt2 ? Gpt2Targets : LlamaTargets;

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
            config.MaxPositions, config.TorchDtype, File.Exists(Path.Combine(directory, "tokenizer.json")), TargetsFor(config.Family));
    }
}
