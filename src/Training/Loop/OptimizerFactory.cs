using LoraService.Training.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Loop;

/// <param name="WeightDecay">Decoupled decay; always passed explicitly (TorchSharp's default is 0, PyTorch's 0.01).</param>
/// <param name="LoraPlusRatio">LoRA+ (Hayou et al., 2024): parameters named <c>*lora_B.weight</c> train at lr × ratio.</param>
public sealed record AdamWOptions(
    double LearningRate = 2e-4,
    double WeightDecay = 0.01,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    double? LoraPlusRatio = null);

/// <summary>A parameter group with the peak learning rate the schedule scales.</summary>
public sealed record OptimizerGroup(string Name, IReadOnlyList<string> ParameterNames, double PeakLearningRate, double WeightDecay);

public static class OptimizerFactory
{
    /// <summary>
    /// AdamW over the named trainable parameters, split into groups: biases and norm weights get no
    /// weight decay (as Hugging Face's Trainer does), and with LoRA+ the <c>lora_B</c> matrices get
    /// their own learning rate. Groups are returned in optimizer order.
    /// </summary>
    public static (AdamW Optimizer, IReadOnlyList<OptimizerGroup> Groups) Create(
        IReadOnlyList<(string Name, Parameter Parameter)> parameters, AdamWOptions options)
    {
        var groups = parameters
            .GroupBy(p => (Decay: !IsExemptFromDecay(p.Name), LoraB: options.LoraPlusRatio is not null && LoraModel.IsLoraB(p.Name)))
            .OrderBy(g => g.Key.LoraB).ThenByDescending(g => g.Key.Decay)
            .ToList();
        var described = new List<OptimizerGroup>();
        var paramGroups = new List<AdamW.ParamGroup>();
        foreach (var group in groups)
        {
            var lr = group.Key.LoraB ? options.LearningRate * options.LoraPlusRatio!.Value : options.LearningRate;
            var decay = group.Key.Decay ? options.WeightDecay : 0.0;
            described.Add(new OptimizerGroup(
                $"{(group.Key.LoraB ? "lora_B" : "default")}{(group.Key.Decay ? "" : "_no_decay")}",
                group.Select(p => p.Name).ToList(), lr, decay));
            paramGroups.Add(new AdamW.ParamGroup(group.Select(p => p.Parameter).ToList(),
                lr: lr, beta1: options.Beta1, beta2: options.Beta2, eps: options.Epsilon, weight_decay: decay));
        }
        var optimizer = optim.AdamW(paramGroups, lr: options.LearningRate, beta1: options.Beta1, beta2: options.Beta2,
            eps: options.Epsilon, weight_decay: options.WeightDecay);
        return (optimizer, described);
    }

    private static bool IsExemptFromDecay(string name) =>
        name.EndsWith("bias", StringComparison.Ordinal) || name.Contains("norm", StringComparison.OrdinalIgnoreCase);
}
