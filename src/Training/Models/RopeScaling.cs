using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Training.Models;

/// <summary>
/// A checkpoint's <c>rope_scaling</c> (or <c>rope_parameters</c>) of one of the types this engine computes exactly,
/// as transformers' <c>modeling_rope_utils</c> defines them: <c>linear</c> (frequencies divided by the factor),
/// <c>dynamic</c> (NTK: the base grows once a sequence is longer than <c>max_position_embeddings</c>) and
/// <c>llama3</c> (low frequencies divided by the factor, high ones kept, a smooth ramp between).
/// </summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositions = 0)
{
    public const string Linear = "linear", Dynamic = "dynamic", Llama3 = "llama3";

    /// <summary>The scaling <paramref name="node"/> describes; null for none or the default rope.</summary>
    /// <exception cref="UnsupportedArchitectureException">A rope type (yarn, longrope, …) or parameter this engine does not compute.</exception>
    public static RopeScaling? Parse(JsonNode? node)
    {
        if (node is not JsonObject o)
            return null;
        // Older files spell the key "type"; transformers reads either.
        var type = Str(o, "rope_type") ?? Str(o, "type") ?? "default";
        if (type == "default")
            return null;
        if (type is not (Linear or Dynamic or Llama3))
            throw UnsupportedArchitectureException.For("rope_scaling.rope_type", type,
                $"this engine computes the rope types default, {Linear}, {Dynamic} and {Llama3}");
        var factor = Number(o, "factor") ?? throw new FormatException($"rope_scaling of type {type} has no factor");
        if (type != Llama3)
            return new RopeScaling(type, factor);
        return new RopeScaling(type, factor,
            Number(o, "low_freq_factor") ?? throw new FormatException("rope_scaling of type llama3 has no low_freq_factor"),
            Number(o, "high_freq_factor") ?? throw new FormatException("rope_scaling of type llama3 has no high_freq_factor"),
            (int)(Number(o, "original_max_position_embeddings") ?? throw new FormatException("rope_scaling of type llama3 has no original_max_position_embeddings")));
    }

    /// <summary>The fields transformers writes for this scaling.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["factor"] = Factor, ["rope_type"] = Type };
        if (Type == Llama3)
        {
            o["low_freq_factor"] = LowFreqFactor;
            o["high_freq_factor"] = HighFreqFactor;
            o["original_max_position_embeddings"] = OriginalMaxPositions;
        }
        return o;
    }

    static string? Str(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    static double? Number(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;
}
