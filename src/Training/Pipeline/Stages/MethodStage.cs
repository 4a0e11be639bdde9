using LoraService.Training.Lora;
using LoraService.Training.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>Apply method: LoRA adapters on the target modules, or the whole model unfrozen for full fine-tuning.</summary>
internal static class MethodStage
{
    /// <returns>The parameters the optimizer trains.</returns>
    public static IReadOnlyList<(string Name, Parameter Parameter)> Apply(RunContext run, CausalLM model)
    {
        var job = run.Job;
        var baseParameters = model.parameters().Sum(p => p.numel());
        // LoRA A matrices are initialised from the default generator: seed it so a run is reproducible.
        manual_seed(job.Hyperparameters.Seed);
        if (job.Lora is { } lora)
        {
            var adapted = LoraModel.Apply(model, new LoraConfig(lora.Rank, lora.Alpha!.Value, lora.TargetModules!, lora.Dropout, lora.UseRsLora));
            run.Info($"LoRA r={lora.Rank}, alpha={lora.Alpha}, dropout={lora.Dropout}" +
                $"{(lora.UseRsLora ? ", rsLoRA" : "")} on {adapted.Count} modules ({string.Join(", ", lora.TargetModules!)})");
        }
        else
        {
            FullFineTune.Prepare(model, job.Hyperparameters.FreezeEmbeddings);
        }
        if (job.Hyperparameters.GradientCheckpointing)
        {
            // The recompute replays the CPU generator only; on CUDA, dropout would draw new masks in backward.
            if (model.parameters().First().device.type == TorchSharp.DeviceType.CUDA && job.Lora is { Dropout: > 0 })
                throw new UnsupportedSettingException(
                    "hyperparameters.gradient_checkpointing with lora.dropout > 0 is not supported on CUDA yet: set lora.dropout to 0 or turn checkpointing off");
            model.GradientCheckpointing = true;
            run.Info("gradient checkpointing: each decoder layer's activations are recomputed in backward");
        }
        var trainable = LoraModel.TrainableParameters(model);
        var count = trainable.Sum(p => p.Parameter.numel());
        run.Info($"{count:N0} trainable parameters ({100.0 * count / Math.Max(1, baseParameters):0.###}% of the base model)");
        return trainable;
    }
}
