using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Export;

public sealed class AdapterMismatchException(string message) : Exception(message);

/// <summary>
/// Loads a PEFT LoRA adapter directory onto a base model. Every key must land on a projection of the
/// model: an adapter that silently does nothing is the failure users hit most.
/// </summary>
public static class AdapterImporter
{
    public static LoraHyperparameters ReadConfig(string directory)
    {
        var path = Path.Combine(directory, AdapterExporter.ConfigFile);
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

    /// <summary>Attaches and fills the adapters; returns the adapted module paths.</summary>
    public static IReadOnlyList<string> Load(CausalLM model, string directory)
    {
        var settings = ReadConfig(directory);
        var file = Path.Combine(directory, AdapterExporter.WeightsFile);
        var tensors = SafetensorsReader.ReadAll(file);
        try
        {
            var projections = model.Projections().ToDictionary(p => p.Path, p => p.Module);
            var factors = new Dictionary<string, (Tensor? A, Tensor? B)>();
            var unmatched = new List<string>();
            foreach (var (key, value) in tensors)
            {
                var (path, factor) = Parse(key);
                if (path is null || !projections.ContainsKey(path))
                {
                    unmatched.Add(key);
                    continue;
                }
                var pair = factors.GetValueOrDefault(path);
                factors[path] = factor == 'A' ? (value, pair.B) : (pair.A, value);
            }
            if (unmatched.Count > 0)
                throw new AdapterMismatchException(
                    $"{file}: {unmatched.Count} adapter key(s) match no module of this {model.Config.Architecture}: {string.Join(", ", unmatched.Take(10))}");
            if (factors.Count == 0)
                throw new AdapterMismatchException($"{file}: the adapter holds no LoRA weights");

            using var _ = no_grad();
            foreach (var (path, (a, b)) in factors)
            {
                if (a is null || b is null)
                    throw new AdapterMismatchException($"{file}: '{path}' has only one of lora_A / lora_B");
                var projection = projections[path];
                long[] shapeA = [settings.Rank, projection.InFeatures], shapeB = [projection.OutFeatures, settings.Rank];
                if (!a.shape.SequenceEqual(shapeA) || !b.shape.SequenceEqual(shapeB))
                    throw new AdapterMismatchException(
                        $"{file}: '{path}' has A [{string.Join(", ", a.shape)}], B [{string.Join(", ", b.shape)}]; expected [{string.Join(", ", shapeA)}], [{string.Join(", ", shapeB)}]");
                projection.AttachLora(settings, a.dtype);
                projection.LoraA!.copy_(a);
                projection.LoraB!.copy_(b);
            }
            return factors.Keys.Order(StringComparer.Ordinal).ToList();
        }
        finally
        {
            foreach (var t in tensors.Values)
                t.Dispose();
        }
    }

    // "base_model.model.<path>.lora_A.weight" (PEFT in-memory files may still carry ".default").
    static (string? Path, char Factor) Parse(string key)
    {
        if (!key.StartsWith(AdapterExporter.KeyPrefix, StringComparison.Ordinal))
            return (null, ' ');
        var rest = key[AdapterExporter.KeyPrefix.Length..].Replace(".default.weight", ".weight", StringComparison.Ordinal);
        foreach (var factor in new[] { 'A', 'B' })
        {
            var suffix = $".lora_{factor}.weight";
            if (rest.EndsWith(suffix, StringComparison.Ordinal))
                return (rest[..^suffix.Length], factor);
        }
        return (null, ' ');
    }
}
