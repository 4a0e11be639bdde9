using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Training.Models;

/// <summary>
/// Config fields of the Llama-style families that change the forward pass in ways this engine does not compute. A model
/// that sets one is refused by name rather than trained with the wrong math. (rope_scaling types are checked by
/// <see cref="RopeScaling.Parse"/>, activations by the parser.)
/// </summary>
static class UnsupportedFields
{
    public static void Check(JsonObject root, string modelType)
    {
        if (root["quantization_config"] is JsonObject quantization)
            throw UnsupportedArchitectureException.For("quantization_config",
                (quantization["quant_method"] as JsonValue)?.ToString() ?? "present", "quantized weights cannot be loaded");
        if (Number(root, "partial_rotary_factor") is { } partial && partial != 1.0)
            throw UnsupportedArchitectureException.For("partial_rotary_factor", Show(partial), "rope over part of each head is not implemented");
        if (root["use_sliding_window"] is JsonValue v && v.GetValueKind() == JsonValueKind.True)
            throw UnsupportedArchitectureException.For("use_sliding_window", "true", $"{modelType}'s per-layer sliding window is not implemented");
        var gemma2 = modelType == Gemma2Config.ModelType;
        if (root["layer_types"] is JsonArray layers && !(gemma2 && Gemma2Config.IsOwnLayerPattern(layers))
            && layers.FirstOrDefault(l => l?.ToString() != "full_attention") is { } other)
            throw UnsupportedArchitectureException.For("layer_types", other?.ToString() ?? "null", "only full_attention layers are implemented");
        foreach (var softcap in gemma2 ? [] : new[] { "attn_logit_softcapping", "final_logit_softcapping" })
        {
            if (Number(root, softcap) is { } cap)
                throw UnsupportedArchitectureException.For(softcap, Show(cap), $"soft-capping is not implemented for {modelType}");
        }
        if (root["rope_parameters"] is JsonObject rope && rope.Any(p => p.Value is JsonObject))
            throw UnsupportedArchitectureException.For("rope_parameters", "per layer type", "one rope for all layers is implemented");
    }

    static double? Number(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    static string Show(double d) => d.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
