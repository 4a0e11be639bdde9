using System.Text.Json.Nodes;

namespace LoraService.Training.Models;

/// <summary>Gemma 2's config fields and defaults (transformers' <c>Gemma2Config</c>) on top of the Llama-style ones.</summary>
static class Gemma2Config
{
    public const string ModelType = "gemma2";
    const string GeluTanh = "gelu_pytorch_tanh";

    /// <summary>The MLP activation; Gemma 2 reads <c>hidden_activation</c> (older files: <c>hidden_act</c>).</summary>
    public static string Activation(JsonObject root)
    {
        var act = ModelConfig.Str(root, "hidden_activation") ?? ModelConfig.Str(root, "hidden_act") ?? GeluTanh;
        return act == GeluTanh ? act : throw UnsupportedArchitectureException.For("hidden_activation", act, $"Gemma 2 is implemented with {GeluTanh}");
    }

    public static ModelConfig Apply(ModelConfig config, JsonObject root) => config with
    {
        HeadDim = ModelConfig.OptInt(root, "head_dim") ?? 256,
        TieWordEmbeddings = ModelConfig.OptBool(root, "tie_word_embeddings") ?? true,
        AttentionSoftcap = Capping(root, "attn_logit_softcapping", 50.0),
        FinalSoftcap = Capping(root, "final_logit_softcapping", 30.0),
        QueryPreAttnScalar = ModelConfig.OptDouble(root, "query_pre_attn_scalar") ?? 256,
        SlidingWindow = root.ContainsKey("sliding_window") ? ModelConfig.OptInt(root, "sliding_window") : 4096,
    };

    // An absent key takes transformers' default; an explicit null switches the capping off.
    static double? Capping(JsonObject root, string key, double defaultValue) =>
        root.ContainsKey(key) ? ModelConfig.OptDouble(root, key) : defaultValue;

    /// <summary>Whether <paramref name="layerTypes"/> is Gemma 2's own pattern: sliding on even layers, full on odd ones.</summary>
    public static bool IsOwnLayerPattern(JsonArray layerTypes) =>
        layerTypes.Select((l, i) => l?.ToString() == (i % 2 == 0 ? "sliding_attention" : "full_attention")).All(ok => ok);
}
