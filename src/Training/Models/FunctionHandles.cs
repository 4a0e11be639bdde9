using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// The handle bookkeeping a TorchSharp custom autograd function needs, per function type and thread. TorchSharp does
/// not dispose the handles it takes from a function: the output handle forward creates is not the one
/// <c>apply</c> returns (released right after <c>apply</c>, so it cannot keep the node and its saved tensors alive
/// until a dispose scope ends), and the gradient handles backward returns are released at the start of the next
/// backward call (native code has copied them by then).
/// </summary>
static class FunctionHandles<TFunction>
{
    [ThreadStatic] static List<Tensor>? returned;
    [ThreadStatic] static Tensor? output;

    /// <summary>Remembers the output handle forward hands to TorchSharp.</summary>
    public static Tensor Output(Tensor tensor) => output = tensor;

    /// <summary>Releases the output handle of the last forward; call after <c>apply</c>.</summary>
    public static void ReleaseOutput()
    {
        output?.Dispose();
        output = null;
    }

    /// <summary>Remembers gradient handles backward returns, to release them at the next <see cref="ReleaseReturned"/>.</summary>
    public static void Returned(IEnumerable<Tensor?> gradients)
    {
        returned ??= [];
        returned.AddRange(gradients.OfType<Tensor>());
    }

    /// <summary>Releases the gradient handles the previous backward returned; call at the start of backward.</summary>
    public static void ReleaseReturned()
    {
        if (returned is null)
            return;
        foreach (var t in returned)
            t.Dispose();
        returned.Clear();
    }
}
