using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Tokenization;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// Creates small randomly initialised models in exactly the Hugging Face layout (config, weights,
/// generation config, byte-level tokenizer), so tests and demos never download weights.
/// </summary>
public static class ModelFactory
{
    /// <summary>A small Llama-style config; vocab holds the 256 bytes and the end-of-text token.</summary>
    public static ModelConfig TinyLlama(int hidden = 64, int layers = 2, int heads = 4, int kvHeads = 2, int intermediate = 176,
        int maxPositions = 256, int vocab = ByteLevelTokenizer.MinVocabSize) => new()
    {
        Family = ModelFamily.Llama,
        ModelType = "llama",
        Architecture = "LlamaForCausalLM",
        VocabSize = vocab,
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        NumLayers = layers,
        NumHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDim = hidden / heads,
        MaxPositions = maxPositions,
        NormEps = 1e-5,
        TieWordEmbeddings = false,
        BosTokenId = ByteLevelTokenizer.EndOfText,
        EosTokenIds = [ByteLevelTokenizer.EndOfText],
    };

    public static ModelConfig TinyGpt2(int hidden = 64, int layers = 2, int heads = 4, int maxPositions = 256,
        int vocab = ByteLevelTokenizer.MinVocabSize) => new()
    {
        Family = ModelFamily.Gpt2,
        ModelType = "gpt2",
        Architecture = "GPT2LMHeadModel",
        VocabSize = vocab,
        HiddenSize = hidden,
        IntermediateSize = 4 * hidden,
        NumLayers = layers,
        NumHeads = heads,
        NumKeyValueHeads = heads,
        HeadDim = hidden / heads,
        MaxPositions = maxPositions,
        NormEps = 1e-5,
        AttentionBias = true,
        MlpBias = true,
        TieWordEmbeddings = true,
        Activation = "gelu_new",
        BosTokenId = ByteLevelTokenizer.EndOfText,
        EosTokenIds = [ByteLevelTokenizer.EndOfText],
    };

    /// <summary>A model with HF's initialisation: normal(0, initializer_range) weights and embeddings, zero biases, unit norms.</summary>
    public static CausalLM CreateRandom(ModelConfig config, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var model = CheckpointLoader.Create(config, device, dtype);
        var generator = new Generator((ulong)seed, device ?? CPU);
        var std = config.InitializerRange;
        // GPT-2 scales residual output projections by 1/√(2·n_layer) (its "special scaled init").
        var residualStd = std / Math.Sqrt(2.0 * config.NumLayers);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal))
                p.zero_();
            else if (p.dim() == 1)
                p.fill_(1.0);
            else if (config.Family == ModelFamily.Gpt2 && name.EndsWith("c_proj.weight", StringComparison.Ordinal))
                p.normal_(0, residualStd, generator);
            else
                p.normal_(0, std, generator);
        }
        return model;
    }

    /// <summary>Writes <c>config.json</c>, <c>model.safetensors</c>, <c>generation_config.json</c> and the tokenizer files.</summary>
    public static void WriteCheckpoint(string directory, ModelConfig config, long seed)
    {
        if (config.VocabSize < ByteLevelTokenizer.MinVocabSize)
            throw new ArgumentException($"vocab_size {config.VocabSize} cannot hold the {ByteLevelTokenizer.MinVocabSize}-token byte-level tokenizer");
        Directory.CreateDirectory(directory);
        using var model = CreateRandom(config, seed);
        CheckpointExporter.Save(model, directory);
        var generation = new JsonObject
        {
            ["bos_token_id"] = config.BosTokenId,
            ["eos_token_id"] = config.EosTokenIds.Length == 1 ? config.EosTokenIds[0] : new JsonArray(config.EosTokenIds.Select(e => (JsonNode?)e).ToArray()),
            ["transformers_version"] = "4.40.2",
        };
        AtomicFile.WriteAllText(Path.Combine(directory, "generation_config.json"), generation.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (var (fileName, json) in ByteLevelTokenizer.Files(config.MaxPositions))
            AtomicFile.WriteAllText(Path.Combine(directory, fileName), json);
    }
}
