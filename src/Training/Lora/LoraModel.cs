using LoraService.Training.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Lora;

/// <summary>Turns a base model into a LoRA model (as PEFT's <c>get_peft_model</c>) and lists what the optimizer should see.</summary>
public static class LoraModel
{
    public static readonly IReadOnlyList<string> LlamaTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    public static readonly IReadOnlyList<string> Gpt2Targets = ["c_attn", "c_proj", "c_fc"];
    /// <summary>Phi-3's fused projections, by the names PEFT targets (and writes) for it.</summary>
    public static readonly IReadOnlyList<string> Phi3Targets = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"];

    /// <summary>Every linear projection of the architecture but the head: what PEFT's <c>all-linear</c> means here, and the
    /// one list the job spec's default is resolved from (through the model catalog).</summary>
    public static IReadOnlyList<string> KnownTargets(ModelConfig config) =>
        config.Family == ModelFamily.Gpt2 ? Gpt2Targets : config.FusedProjections ? Phi3Targets : LlamaTargets;

    /// <summary>
    /// Attaches adapters to the targeted projections and freezes everything else.
    /// Returns the HF module paths that were adapted.
    /// </summary>
    public static IReadOnlyList<string> Apply(CausalLM model, LoraConfig config, ScalarType adapterType = ScalarType.Float32)
    {
        if (config.Rank <= 0)
            throw new ArgumentException($"LoRA rank must be positive, got {config.Rank}");
        var targets = Select(model, config.TargetModules);
        foreach (var p in model.parameters())
            p.requires_grad = false;
        foreach (var (_, projection) in targets)
            LoraAdapter.Attach(projection, config.Hyperparameters, adapterType);
        return targets.Select(t => t.Path).ToList();
    }

    /// <summary>The projections <paramref name="targetModules"/> names; PEFT matching: a path equals the target or ends with "." + target.</summary>
    public static IReadOnlyList<(string Path, Projection Module)> Select(CausalLM model, IReadOnlyList<string> targetModules)
    {
        var projections = model.Projections();
        if (targetModules.Count == 1 && targetModules[0] == LoraConfig.AllLinear)
            return projections;
        if (targetModules.Count == 0)
            throw new ArgumentException("target_modules is empty");
        var known = KnownTargets(model.Config);
        foreach (var target in targetModules)
        {
            if (target == LoraConfig.AllLinear)
                throw new ArgumentException("'all-linear' cannot be combined with other target modules");
            var leaf = target[(target.LastIndexOf('.') + 1)..];
            if (!known.Contains(leaf))
                throw new ArgumentException(
                    $"unknown LoRA target module '{target}' for {model.Config.Architecture}; known: {string.Join(", ", known)} or {LoraConfig.AllLinear}");
            if (!projections.Any(p => Matches(p.Path, target)))
                throw new ArgumentException($"LoRA target module '{target}' matches no module of this {model.Config.Architecture}");
        }
        return projections.Where(p => targetModules.Any(t => Matches(p.Path, t))).ToList();
    }

    static bool Matches(string path, string target) => path == target || path.EndsWith("." + target, StringComparison.Ordinal);

    /// <summary>Parameters with <c>requires_grad</c>, by state-dict name.</summary>
    public static IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters(CausalLM model) =>
        model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();

    /// <summary>The A factors (<c>lora_A.weight</c>).</summary>
    public static IReadOnlyList<Parameter> LoraAParameters(CausalLM model) =>
        model.Projections().Select(p => p.Module.LoraA).OfType<Parameter>().ToList();

    /// <summary>The B factors (<c>lora_B.weight</c>): the group LoRA+ gives a larger learning rate.</summary>
    public static IReadOnlyList<Parameter> LoraBParameters(CausalLM model) =>
        model.Projections().Select(p => p.Module.LoraB).OfType<Parameter>().ToList();

    public static bool IsLoraB(string parameterName) => PeftNames.IsFactor(parameterName, PeftNames.LoraB);
    public static bool IsLoraA(string parameterName) => PeftNames.IsFactor(parameterName, PeftNames.LoraA);

    /// <summary>The adapted projections, with their HF module paths.</summary>
    public static IReadOnlyList<(string Path, Projection Module)> Adapted(CausalLM model) =>
        model.Projections().Where(p => p.Module.Lora is not null).ToList();
}

/// <summary>Full fine-tuning: every weight trainable, optionally with the embeddings frozen.</summary>
public static class FullFineTune
{
    public static void Prepare(CausalLM model, bool freezeEmbeddings = false)
    {
        foreach (var (name, p) in model.named_parameters())
            p.requires_grad = !(freezeEmbeddings && IsEmbedding(name));
    }

    public static bool IsEmbedding(string name) =>
        name is "model.embed_tokens.weight" or "transformer.wte.weight" or "transformer.wpe.weight";
}
