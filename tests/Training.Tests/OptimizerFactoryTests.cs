using LoraService.Training.Loop;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class OptimizerFactoryTests
{
    private static (string, Parameter) P(string name, params long[] shape) => (name, new Parameter(zeros(shape)));

    [Fact]
    public void Lora_plus_gives_lora_B_its_own_rate_and_biases_no_decay()
    {
        var parameters = new[]
        {
            P("layers.0.q_proj.lora_A.weight", 2, 4), P("layers.0.q_proj.lora_B.weight", 4, 2),
            P("layers.0.v_proj.lora_A.weight", 2, 4), P("layers.0.v_proj.lora_B.weight", 4, 2),
            P("layers.0.input_layernorm.weight", 4), P("lm_head.bias", 4),
        };
        var (optimizer, groups) = OptimizerFactory.Create(parameters, new AdamWOptions(LearningRate: 1e-4, WeightDecay: 0.05, LoraPlusRatio: 16));
        using var _ = optimizer;

        Assert.Equal(["default", "default_no_decay", "lora_B"], groups.Select(g => g.Name));
        Assert.Equal(["layers.0.q_proj.lora_A.weight", "layers.0.v_proj.lora_A.weight"], groups[0].ParameterNames);
        Assert.Equal(["layers.0.input_layernorm.weight", "lm_head.bias"], groups[1].ParameterNames);
        Assert.Equal(["layers.0.q_proj.lora_B.weight", "layers.0.v_proj.lora_B.weight"], groups[2].ParameterNames);
        Assert.Equal([1e-4, 1e-4, 16e-4], groups.Select(g => g.PeakLearningRate));
        Assert.Equal([0.05, 0.0, 0.05], groups.Select(g => g.WeightDecay));

        var native = optimizer.ParamGroups.Cast<AdamW.ParamGroup>().ToList();
        Assert.Equal([1e-4, 1e-4, 16e-4], native.Select(g => g.LearningRate));
        Assert.Equal([0.05, 0.0, 0.05], native.Select(g => g.Options.weight_decay!.Value));
        Assert.Equal([2, 2, 2], native.Select(g => g.Parameters.Count()));
    }

    [Fact]
    public void Without_lora_plus_lora_B_is_an_ordinary_parameter()
    {
        var (optimizer, groups) = OptimizerFactory.Create([P("a.lora_A.weight", 2, 2), P("a.lora_B.weight", 2, 2)], new AdamWOptions());
        using var _ = optimizer;
        var group = Assert.Single(groups);
        Assert.Equal(0.01, group.WeightDecay);
        Assert.Equal(2e-4, group.PeakLearningRate);
    }

    [Fact]
    public void Weight_decay_is_decoupled_and_applied()
    {
        // Zero gradient: Adam's update is 0, so only the decay moves the weight: w ← w(1 − lr·λ).
        var weight = new Parameter(ones(3));
        var (optimizer, _) = OptimizerFactory.Create([("w", weight)], new AdamWOptions(LearningRate: 0.1, WeightDecay: 0.5));
        using var __ = optimizer;
        weight.grad = zeros(3);
        optimizer.step();
        Assert.Equal(0.95f, weight[0].item<float>(), 6);
    }
}
