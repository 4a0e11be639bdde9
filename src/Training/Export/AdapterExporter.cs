using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Export;

/// <summary>Writes a PEFT LoRA adapter directory, the files <c>PeftModel.save_pretrained</c> writes.</summary>
public static class AdapterExporter
{
    public const string WeightsFile = "adapter_model.safetensors";
    public const string ConfigFile = "adapter_config.json";
    public const string KeyPrefix = "base_model.model.";

    /// <summary>On-disk PEFT keys and tensors (no adapter name): A <c>[r, in]</c>, B <c>[out, r]</c>, also for Conv1D.</summary>
    public static Dictionary<string, Tensor> AdapterTensors(CausalLM model)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (path, projection) in LoraModel.Adapted(model))
        {
            tensors[$"{KeyPrefix}{path}.lora_A.weight"] = projection.LoraA!.detach();
            tensors[$"{KeyPrefix}{path}.lora_B.weight"] = projection.LoraB!.detach();
        }
        return tensors;
    }

    public static void Save(CausalLM model, string directory, string baseModelNameOrPath)
    {
        var adapted = LoraModel.Adapted(model);
        if (adapted.Count == 0)
            throw new InvalidOperationException("the model has no LoRA adapters to export");
        var settings = adapted[0].Module.Lora!.Hyperparameters;
        if (adapted.Any(a => a.Module.Lora!.Hyperparameters != settings))
            throw new InvalidOperationException("adapters with different r/alpha per module cannot be described by one adapter_config.json");

        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), AdapterTensors(model));
        var targets = adapted.Select(a => a.Path[(a.Path.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal);
        var config = new JsonObject
        {
            ["base_model_name_or_path"] = baseModelNameOrPath,
            ["bias"] = "none",
            ["fan_in_fan_out"] = model.Config.Family == ModelFamily.Gpt2,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["lora_alpha"] = settings.Alpha,
            ["lora_dropout"] = settings.Dropout,
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = settings.Rank,
            ["target_modules"] = new JsonArray(targets.Select(t => (JsonNode?)t).ToArray()),
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = settings.UseRsLora,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
