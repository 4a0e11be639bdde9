using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// Intermediate tensors of one forward call, released when the call returns. TorchSharp keeps every tensor
/// handle alive until its dispose scope ends (for a training step: after backward), while PyTorch frees an
/// intermediate as soon as nothing refers to it. Autograd holds its own reference to what backward needs, so
/// disposing the handles early changes no value; it only lets the memory go, as in PyTorch.
/// Never add a tensor the caller receives or one that something else (a KV cache) keeps.
/// </summary>
sealed class Temps : IDisposable
{
    readonly List<Tensor> tensors = new(16);

    public Tensor Add(Tensor t)
    {
        tensors.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in tensors)
            t.Dispose();
        tensors.Clear();
    }
}
