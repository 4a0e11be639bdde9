using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Export;

/// <summary>Writes a PEFT LoRA adapter directory, the files <c>PeftModel.save_pretrained</c> writes.</summary>
public static class AdapterExporter
{
    public const string WeightsFile = PeftNames.WeightsFile;
    public const string ConfigFile = PeftNames.ConfigFile;

    /// <summary>On-disk PEFT keys and tensors (no adapter name): A <c>[r, in]</c>, B <c>[out, r]</c>, also for Conv1D.</summary>
    public static Dictionary<string, Tensor> AdapterTensors(CausalLM model)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (path, projection) in LoraModel.Adapted(model))
        {
            tensors[PeftNames.TensorKey(path, PeftNames.LoraA)] = projection.LoraA!.detach();
            tensors[PeftNames.TensorKey(path, PeftNames.LoraB)] = projection.LoraB!.detach();
        }
        return tensors;
    }

    public static void Save(CausalLM model, string directory, string baseModelNameOrPath)
    {
        var adapted = LoraModel.Adapted(model);
        if (adapted.Count == 0)
            throw new InvalidOperationException("the model has no LoRA adapters to export");
        var hyperparameters = adapted[0].Module.Lora!.Hyperparameters;
        if (adapted.Any(a => a.Module.Lora!.Hyperparameters != hyperparameters))
            throw new InvalidOperationException("adapters with different r/alpha per module cannot be described by one adapter_config.json");

        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), AdapterTensors(model));
        var targets = adapted.Select(a => a.Path[(a.Path.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal);
        var config = PeftAdapterConfig.ToJson(hyperparameters, targets, model.Config.Family == ModelFamily.Gpt2, baseModelNameOrPath);
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
