using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Training.Models;

public enum ModelFamily { Llama, Gpt2 }

/// <summary>
/// The fields of a Hugging Face <c>config.json</c> the models need, normalised across
/// Llama/Mistral/Qwen2 and GPT-2 spellings.
/// </summary>
public sealed record ModelConfig
{
    public required ModelFamily Family { get; init; }
    public required string ModelType { get; init; }
    public required string Architecture { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int MaxPositions { get; init; }
    public required double NormEps { get; init; }
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>Mistral/Phi-3: each query sees only this many keys (itself included); null for full attention.</summary>
    public int? SlidingWindow { get; init; }
    public bool AttentionBias { get; init; }
    public bool MlpBias { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public string Activation { get; init; } = "silu";
    public string TorchDtype { get; init; } = "float32";
    public double InitializerRange { get; init; } = 0.02;
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }

    /// <summary>Gemma 2: scale of the attention scores tanh-capped to ±this before the softmax; null for none.</summary>
    public double? AttentionSoftcap { get; init; }
    /// <summary>Gemma 2: logits tanh-capped to ±this; null for none.</summary>
    public double? FinalSoftcap { get; init; }
    /// <summary>Gemma 2: attention scores are scaled by 1/√this instead of 1/√head_dim; null for head_dim.</summary>
    public double? QueryPreAttnScalar { get; init; }

    static readonly string[] LlamaTypes = ["llama", "mistral", "qwen2", "qwen3", "phi3", Gemma2Config.ModelType];

    /// <summary>Gemma 2: (1 + w) RMSNorm, √hidden embedding scale, norms after attention and MLP too, sliding window on even layers.</summary>
    public bool IsGemma2 => ModelType == Gemma2Config.ModelType;

    /// <summary>The sliding window of layer <paramref name="layer"/>, null for full attention.</summary>
    public int? WindowOf(int layer) => IsGemma2 && layer % 2 == 1 ? null : SlidingWindow;

    /// <summary>Qwen3 normalises each head's queries and keys (RMSNorm) before RoPE.</summary>
    public bool QkNorm => ModelType == "qwen3";

    /// <summary>Phi-3 fuses q/k/v into <c>qkv_proj</c> and gate/up into <c>gate_up_proj</c>.</summary>
    public bool FusedProjections => ModelType == "phi3";

    public static ModelConfig Load(string path) => Parse(File.ReadAllText(path), path);

    public static ModelConfig Parse(string json, string source = "config.json")
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new FormatException($"{source}: not a JSON object");
        var modelType = root["model_type"]?.GetValue<string>()
            ?? throw new UnsupportedArchitectureException($"{source}: no model_type", "model_type");
        var architecture = (root["architectures"] as JsonArray)?.FirstOrDefault()?.GetValue<string>() ?? modelType;

        if (modelType == "gpt2")
            return ParseGpt2(root, architecture);
        if (LlamaTypes.Contains(modelType))
            return ParseLlama(root, modelType, architecture, source);
        throw new UnsupportedArchitectureException(
            $"{source}: model_type '{modelType}' ({architecture}) is not supported; supported: {string.Join(", ", LlamaTypes)}, gpt2", "model_type");
    }

    static ModelConfig ParseLlama(JsonObject root, string modelType, string architecture, string source)
    {
        var hidden = Int(root, "hidden_size");
        var heads = Int(root, "num_attention_heads");
        var act = modelType == Gemma2Config.ModelType ? Gemma2Config.Activation(root) : Str(root, "hidden_act") ?? "silu";
        if (act != "silu" && modelType != Gemma2Config.ModelType)
            throw UnsupportedArchitectureException.For("hidden_act", act, "only silu is implemented");
        UnsupportedFields.Check(root, modelType);
        var config = new ModelConfig
        {
            Family = ModelFamily.Llama,
            ModelType = modelType,
            Architecture = architecture,
            VocabSize = Int(root, "vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = Int(root, "intermediate_size"),
            NumLayers = Int(root, "num_hidden_layers"),
            NumHeads = heads,
            NumKeyValueHeads = OptInt(root, "num_key_value_heads") ?? heads,
            HeadDim = OptInt(root, "head_dim") ?? hidden / heads,
            MaxPositions = OptInt(root, "max_position_embeddings") ?? 2048,
            NormEps = OptDouble(root, "rms_norm_eps") ?? 1e-6,
            RopeTheta = OptDouble(root, "rope_theta") ?? OptDouble(root["rope_parameters"] as JsonObject, "rope_theta") ?? 10000.0,
            RopeScaling = RopeScaling.Parse(root["rope_scaling"] ?? root["rope_parameters"]),
            // Qwen2/Qwen3 carry a sliding_window that only applies with use_sliding_window (refused above).
            SlidingWindow = modelType is "mistral" or "phi3" ? OptInt(root, "sliding_window") : null,
            // Qwen2 has q/k/v biases without saying so in its config.
            AttentionBias = OptBool(root, "attention_bias") ?? modelType == "qwen2",
            MlpBias = OptBool(root, "mlp_bias") ?? false,
            TieWordEmbeddings = OptBool(root, "tie_word_embeddings") ?? false,
            Activation = act,
            TorchDtype = Str(root, "torch_dtype") ?? Str(root, "dtype") ?? "float32",
            InitializerRange = OptDouble(root, "initializer_range") ?? 0.02,
            BosTokenId = OptInt(root, "bos_token_id"),
            EosTokenIds = IntList(root["eos_token_id"]),
            PadTokenId = OptInt(root, "pad_token_id"),
        };
        return modelType == Gemma2Config.ModelType ? Gemma2Config.Apply(config, root) : config;
    }

    static ModelConfig ParseGpt2(JsonObject root, string architecture)
    {
        var embd = Int(root, "n_embd");
        var heads = Int(root, "n_head");
        var act = Str(root, "activation_function") ?? "gelu_new";
        if (act is not ("gelu_new" or "gelu_pytorch_tanh"))
            throw UnsupportedArchitectureException.For("activation_function", act, "only gelu_new is implemented for gpt2");
        return new ModelConfig
        {
            Family = ModelFamily.Gpt2,
            ModelType = "gpt2",
            Architecture = architecture,
            VocabSize = Int(root, "vocab_size"),
            HiddenSize = embd,
            IntermediateSize = OptInt(root, "n_inner") ?? 4 * embd,
            NumLayers = Int(root, "n_layer"),
            NumHeads = heads,
            NumKeyValueHeads = heads,
            HeadDim = embd / heads,
            MaxPositions = OptInt(root, "n_positions") ?? 1024,
            NormEps = OptDouble(root, "layer_norm_epsilon") ?? 1e-5,
            AttentionBias = true,
            MlpBias = true,
            TieWordEmbeddings = OptBool(root, "tie_word_embeddings") ?? true,
            Activation = "gelu_new",
            TorchDtype = Str(root, "torch_dtype") ?? Str(root, "dtype") ?? "float32",
            InitializerRange = OptDouble(root, "initializer_range") ?? 0.02,
            BosTokenId = OptInt(root, "bos_token_id"),
            EosTokenIds = IntList(root["eos_token_id"]),
        };
    }

    /// <summary>Serialises to the <c>config.json</c> transformers writes for this architecture.</summary>
    public string ToHfJson()
    {
        JsonNode? Eos() => EosTokenIds.Length switch { 0 => null, 1 => EosTokenIds[0], _ => new JsonArray(EosTokenIds.Select(e => (JsonNode?)e).ToArray()) };
        var o = Family == ModelFamily.Gpt2
            ? new JsonObject
            {
                ["activation_function"] = "gelu_new",
                ["architectures"] = new JsonArray("GPT2LMHeadModel"),
                ["attn_pdrop"] = 0.0, ["embd_pdrop"] = 0.0, ["resid_pdrop"] = 0.0,
                ["bos_token_id"] = BosTokenId, ["eos_token_id"] = Eos(),
                ["initializer_range"] = InitializerRange,
                ["layer_norm_epsilon"] = NormEps,
                ["model_type"] = "gpt2",
                ["n_embd"] = HiddenSize, ["n_head"] = NumHeads, ["n_inner"] = IntermediateSize,
                ["n_layer"] = NumLayers, ["n_positions"] = MaxPositions,
                ["tie_word_embeddings"] = true,
                ["torch_dtype"] = TorchDtype,
                ["vocab_size"] = VocabSize,
            }
            : new JsonObject
            {
                ["architectures"] = new JsonArray(Architecture),
                ["attention_bias"] = AttentionBias, ["mlp_bias"] = MlpBias,
                ["bos_token_id"] = BosTokenId, ["eos_token_id"] = Eos(),
                ["head_dim"] = HeadDim,
                ["hidden_act"] = Activation,
                ["hidden_size"] = HiddenSize,
                ["initializer_range"] = InitializerRange,
                ["intermediate_size"] = IntermediateSize,
                ["max_position_embeddings"] = MaxPositions,
                ["model_type"] = ModelType,
                ["num_attention_heads"] = NumHeads,
                ["num_hidden_layers"] = NumLayers,
                ["num_key_value_heads"] = NumKeyValueHeads,
                ["rms_norm_eps"] = NormEps,
                ["rope_scaling"] = RopeScaling?.ToJson(),
                ["rope_theta"] = RopeTheta,
                ["sliding_window"] = SlidingWindow,
                ["tie_word_embeddings"] = TieWordEmbeddings,
                ["torch_dtype"] = TorchDtype,
                ["vocab_size"] = VocabSize,
            };
        // Written even when null: an absent key takes the class default, Phi-3's 32000, outside a small vocabulary.
        o["pad_token_id"] = PadTokenId;
        if (IsGemma2)
        {
            o.Remove("hidden_act");
            o["hidden_activation"] = Activation;
            o["attn_logit_softcapping"] = AttentionSoftcap;
            o["final_logit_softcapping"] = FinalSoftcap;
            o["query_pre_attn_scalar"] = QueryPreAttnScalar;
        }
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    static int Int(JsonObject o, string key) =>
        OptInt(o, key) ?? throw new FormatException($"config.json: required field '{key}' is missing");

    internal static int? OptInt(JsonObject? o, string key) =>
        o?[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? (int)v.GetValue<double>() : null;

    internal static double? OptDouble(JsonObject? o, string key) =>
        o?[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    internal static bool? OptBool(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    internal static string? Str(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    static int[] IntList(JsonNode? node) => node switch
    {
        JsonArray a => a.OfType<JsonValue>().Select(v => (int)v.GetValue<double>()).ToArray(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => [(int)v.GetValue<double>()],
        _ => [],
    };
}
