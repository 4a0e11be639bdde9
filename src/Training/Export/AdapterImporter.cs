using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Export;

/// <summary>
/// Loads a PEFT LoRA adapter directory onto a base model. Every key must land on a projection of the
/// model: an adapter that silently does nothing is the failure users hit most.
/// </summary>
public static class AdapterImporter
{
    /// <summary>Attaches and fills the adapters; returns the adapted module paths.</summary>
    public static IReadOnlyList<string> Load(CausalLM model, string directory)
    {
        var hyperparameters = PeftAdapterConfig.Read(Path.Combine(directory, PeftNames.ConfigFile));
        var file = Path.Combine(directory, PeftNames.WeightsFile);
        var tensors = SafetensorsReader.ReadAll(file);
        try
        {
            var projections = model.Projections().ToDictionary(p => p.Path, p => p.Module);
            var factors = new Dictionary<string, (Tensor? A, Tensor? B)>();
            var unmatched = new List<string>();
            foreach (var (key, value) in tensors)
            {
                if (PeftNames.ParseTensorKey(key) is not (var path, var factor) || !projections.ContainsKey(path))
                {
                    unmatched.Add(key);
                    continue;
                }
                var pair = factors.GetValueOrDefault(path);
                factors[path] = factor == PeftNames.LoraA ? (value, pair.B) : (pair.A, value);
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
                long[] shapeA = [hyperparameters.Rank, projection.InFeatures], shapeB = [projection.OutFeatures, hyperparameters.Rank];
                if (!a.shape.SequenceEqual(shapeA) || !b.shape.SequenceEqual(shapeB))
                    throw new AdapterMismatchException(
                        $"{file}: '{path}' has A [{string.Join(", ", a.shape)}], B [{string.Join(", ", b.shape)}]; expected [{string.Join(", ", shapeA)}], [{string.Join(", ", shapeB)}]");
                projection.AttachLora(hyperparameters, a.dtype);
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
}
