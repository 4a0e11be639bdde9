using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Training.Lora;

/// <summary><c>adapter_config.json</c> of a LoRA adapter: the fields PEFT writes, and the ones read back.</summary>
public static class PeftAdapterConfig
{
    public static JsonObject ToJson(LoraHyperparameters hyperparameters, IEnumerable<string> targetModules, bool fanInFanOut,
        string baseModelNameOrPath) => new()
    {
        ["base_model_name_or_path"] = baseModelNameOrPath,
        ["bias"] = "none",
        ["fan_in_fan_out"] = fanInFanOut,
        ["inference_mode"] = true,
        ["init_lora_weights"] = true,
        ["lora_alpha"] = hyperparameters.Alpha,
        ["lora_dropout"] = hyperparameters.Dropout,
        ["modules_to_save"] = null,
        ["peft_type"] = "LORA",
        ["r"] = hyperparameters.Rank,
        ["target_modules"] = new JsonArray(targetModules.Select(t => (JsonNode?)t).ToArray()),
        ["task_type"] = "CAUSAL_LM",
        ["use_dora"] = false,
        ["use_rslora"] = hyperparameters.UseRsLora,
    };

    /// <exception cref="AdapterMismatchException">The file describes no plain LoRA adapter.</exception>
    public static LoraHyperparameters Read(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        string? Str(string k) => root.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        bool Bool(string k) => root.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.True;
        double? Num(string k) => root.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

        if (Str("peft_type") != "LORA")
            throw new AdapterMismatchException($"{path}: peft_type is '{Str("peft_type")}', only LORA is supported");
        if (Bool("use_dora"))
            throw new AdapterMismatchException($"{path}: DoRA adapters are not supported");
        var rank = (int)(Num("r") ?? throw new AdapterMismatchException($"{path}: no r"));
        return new LoraHyperparameters(rank, Num("lora_alpha") ?? 8, Num("lora_dropout") ?? 0.0, Bool("use_rslora"));
    }
}
