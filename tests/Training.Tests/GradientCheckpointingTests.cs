using LoraService.Training.Lora;
using LoraService.Training.Loop;
using LoraService.Training.Models;
using LoraService.Training.Pipeline;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>Checkpointed layers give the gradients of the plain forward: same loss, same ∂parameters.</summary>
public sealed class GradientCheckpointingTests
{
    public static TheoryData<string, string, double> Cases() => new()
    {
        { "llama", "lora", 0.1 }, // dropout: backward must replay the masks forward drew
        { "llama", "lora", 0.0 },
        { "llama", "full", 0.0 },
        { "gpt2", "lora", 0.1 },
        { "gpt2", "full", 0.0 },
        { "gemma2", "lora", 0.0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gives_the_same_loss_and_gradients_as_keeping_activations(string family, string method, double dropout)
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.CreateRandom(TinyTrainableModels.Config(family, layers: 3), seed: 8);
        TinyTrainableModels.Prepare(model, method, dropout);
        manual_seed(3);
        var ids = randint(0, 257, [2, 24]);
        var trainable = model.parameters().Where(p => p.requires_grad).ToList();
        Assert.NotEmpty(trainable);

        var (plainLoss, plainGrads) = LossAndGradients(model, ids, trainable, checkpointing: false);
        var (checkpointedLoss, checkpointedGrads) = LossAndGradients(model, ids, trainable, checkpointing: true);

        Assert.Equal(plainLoss, checkpointedLoss, 1e-6);
        for (var i = 0; i < trainable.Count; i++)
        {
            var difference = plainGrads[i].sub(checkpointedGrads[i]).abs().max().item<float>();
            var scale = plainGrads[i].abs().max().item<float>();
            Assert.True(scale > 0, $"parameter {i} got no gradient");
            Assert.True(difference <= 1e-5 * Math.Max(1, scale), $"parameter {i}: max |Δgrad| {difference} (scale {scale})");
        }
    }

    [Fact]
    public void Evaluation_and_generation_are_unaffected()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 4);
        LoraModel.Apply(model, new LoraConfig(4, 8, [LoraConfig.AllLinear], 0.1));
        var prompt = new[] { 5, 9, 12, 40 };
        var before = model.GenerateGreedy(prompt, 6);
        model.GradientCheckpointing = true;
        Assert.Equal(before, model.GenerateGreedy(prompt, 6));
    }

    [Fact]
    public void A_run_with_checkpointing_takes_the_same_steps_as_one_without()
    {
        using var dir = new TempDir();
        FineTuneRunSpec Spec(string name, bool checkpointing)
        {
            var spec = FineTuneRunTests.LoraSpec(dir, work: $"work-{name}", output: $"out-{name}", steps: 4, checkpointEvery: 0);
            return spec with
            {
                Job = spec.Job with
                {
                    Lora = spec.Job.Lora! with { Dropout = 0.1 },
                    Hyperparameters = spec.Job.Hyperparameters with { GradientCheckpointing = checkpointing },
                    Evaluation = spec.Job.Evaluation with { Target = [], Source = [] },
                },
            };
        }
        var plain = new FineTuneRunTests.Recorder();
        var checkpointed = new FineTuneRunTests.Recorder();

        FineTuneRun.Execute(Spec("plain", false), plain);
        FineTuneRun.Execute(Spec("checkpointed", true), checkpointed);

        Assert.Equal(4, checkpointed.Steps.Count);
        Assert.Contains(checkpointed.Events, e => e.Message.Contains("gradient checkpointing"));
        Assert.Equal(plain.Steps.Select(s => s.Loss), checkpointed.Steps.Select(s => s.Loss), (a, b) => Math.Abs(a - b) <= 1e-5 * Math.Max(1, Math.Abs(a)));
        Assert.Equal(plain.Steps.Select(s => s.GradNorm), checkpointed.Steps.Select(s => s.GradNorm), (a, b) => Math.Abs(a - b) <= 1e-4 * Math.Max(1, Math.Abs(a)));
    }

    static (double Loss, Tensor[] Grads) LossAndGradients(CausalLM model, Tensor ids, IReadOnlyList<Tensor> trainable, bool checkpointing)
    {
        model.GradientCheckpointing = checkpointing;
        foreach (var p in trainable)
            p.grad?.zero_();
        manual_seed(77);
        using var logits = model.call(ids);
        using var loss = CausalLmLoss.Sum(logits, ids);
        loss.backward();
        return (loss.item<float>(), trainable.Select(p => p.grad!.clone()).ToArray());
    }
}
