using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// Per-layer keys and values of the tokens seen so far (<c>[B, kv_heads, T, head_dim]</c>, before GQA repetition).
/// Its tensors are detached from dispose scopes so a per-step scope can free everything else.
/// </summary>
public sealed class KvCache(int layers) : IDisposable
{
    readonly Tensor?[] keys = new Tensor?[layers];
    readonly Tensor?[] values = new Tensor?[layers];

    /// <summary>Tokens cached so far (positions of the next input start here).</summary>
    public long Length { get; private set; }

    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        var newK = keys[layer] is { } oldK ? cat([oldK, k], 2) : k.alias();
        var newV = values[layer] is { } oldV ? cat([oldV, v], 2) : v.alias();
        keys[layer]?.Dispose();
        values[layer]?.Dispose();
        keys[layer] = newK.DetachFromDisposeScope();
        values[layer] = newV.DetachFromDisposeScope();
        if (layer == layers - 1)
            Length = newK.shape[2];
        return (newK, newV);
    }

    public void Dispose()
    {
        foreach (var t in keys.Concat(values))
            t?.Dispose();
    }
}
