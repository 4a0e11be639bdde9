using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>A trainable branch on one <see cref="Projection"/> (LoRA) that takes over its forward.</summary>
public interface IProjectionAdapter
{
    /// <summary>The branch's modules, by the name they get under the projection in the state dict.</summary>
    IEnumerable<(string Name, nn.Module Module)> Modules { get; }

    /// <summary>The projection's output for <paramref name="x"/>, the branch included.</summary>
    Tensor Forward(Tensor x);
}
