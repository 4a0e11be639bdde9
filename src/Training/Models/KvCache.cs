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

    /// <summary>
    /// Keeps only the rows <paramref name="rows"/> (int64 indices into the batch) and drops the first
    /// <paramref name="leading"/> cached positions of every row (padding no remaining row needs).
    /// </summary>
    public void Keep(Tensor rows, long leading)
    {
        for (var layer = 0; layer < layers; layer++)
        {
            keys[layer] = Narrowed(keys[layer], rows, leading);
            values[layer] = Narrowed(values[layer], rows, leading);
        }
        Length -= leading;
    }

    static Tensor? Narrowed(Tensor? t, Tensor rows, long leading)
    {
        if (t is null)
            return null;
        using (t)
        using (var selected = t.index_select(0, rows))
            return selected.narrow(2, leading, selected.shape[2] - leading).contiguous().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        foreach (var t in keys.Concat(values))
            t?.Dispose();
    }
}
