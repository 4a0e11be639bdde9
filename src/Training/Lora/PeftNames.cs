namespace LoraService.Training.Lora;

/// <summary>
/// PEFT's names for a LoRA adapter as <c>save_pretrained</c> writes it: the two files, and per adapted module the
/// factors <c>base_model.model.&lt;module path&gt;.lora_A.weight</c> and <c>….lora_B.weight</c> (the adapter name,
/// "default", is left out on disk).
/// </summary>
public static class PeftNames
{
    public const string WeightsFile = "adapter_model.safetensors";
    public const string ConfigFile = "adapter_config.json";
    public const string KeyPrefix = "base_model.model.";

    /// <summary>The factors' module names under a projection.</summary>
    public const string LoraA = "lora_A", LoraB = "lora_B";

    /// <summary>The file key of <paramref name="factor"/> (<see cref="LoraA"/> or <see cref="LoraB"/>) of the module at <paramref name="modulePath"/>.</summary>
    public static string TensorKey(string modulePath, string factor) => KeyPrefix + modulePath + Suffix(factor);

    /// <summary>
    /// The module path and factor a file key names, or null when it names no LoRA factor. Keys from PEFT's
    /// in-memory state dict may still carry the adapter name (<c>lora_A.default.weight</c>).
    /// </summary>
    public static (string ModulePath, string Factor)? ParseTensorKey(string key)
    {
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal))
            return null;
        var name = key[KeyPrefix.Length..].Replace(".default.weight", ".weight", StringComparison.Ordinal);
        foreach (var factor in new[] { LoraA, LoraB })
        {
            if (IsFactor(name, factor))
                return (name[..^Suffix(factor).Length], factor);
        }
        return null;
    }

    /// <summary>Whether a parameter name (state-dict or file key) is the weight of <paramref name="factor"/>.</summary>
    public static bool IsFactor(string parameterName, string factor) =>
        parameterName.EndsWith(Suffix(factor), StringComparison.Ordinal);

    static string Suffix(string factor) => $".{factor}.weight";
}
