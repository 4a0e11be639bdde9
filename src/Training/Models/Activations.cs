using static TorchSharp.torch;

namespace LoraService.Training.Models;

static class Activations
{
    /// <summary>GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): GPT-2's gelu_new, Gemma's gelu_pytorch_tanh.</summary>
    public static Tensor GeluTanh(Tensor x) =>
        x.mul(0.5).mul(x.add(x.pow(3).mul(0.044715)).mul(Math.Sqrt(2.0 / Math.PI)).tanh().add(1.0));
}
