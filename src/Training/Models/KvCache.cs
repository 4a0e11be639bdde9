using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// Per-layer keys and values of the tokens seen so far (<c>[B, kv_heads, T, head_dim]</c>, before GQA repetition).
/// Its tensors are detached from dispose scopes so a per-step scope can free everything else.
/// </summary>
/// <param name="capacity">0: each step concatenates (a new tensor per step). More: buffers of that many positions are
/// allocated once and filled in place (growing if ever needed), so a decoding step copies only its own keys and values
/// instead of the whole cache; what a step gets back are views of the filled part.</param>
public sealed class KvCache(int layers, long capacity = 0) : IDisposable
{
    readonly Tensor?[] keys = new Tensor?[layers];
    readonly Tensor?[] values = new Tensor?[layers];
    readonly long[] filled = new long[layers];

    /// <summary>Tokens cached so far (positions of the next input start here).</summary>
    public long Length { get; private set; }

    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        if (capacity > 0)
            return AppendInPlace(layer, k, v);
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

    (Tensor Keys, Tensor Values) AppendInPlace(int layer, Tensor k, Tensor v)
    {
        var (start, count) = (filled[layer], k.shape[2]);
        if (keys[layer] is null || start + count > keys[layer]!.shape[2])
        {
            keys[layer] = Grown(keys[layer], k, start, Math.Max(capacity, 2 * (start + count)));
            values[layer] = Grown(values[layer], v, start, Math.Max(capacity, 2 * (start + count)));
        }
        using (var slot = keys[layer]!.narrow(2, start, count))
            slot.copy_(k);
        using (var slot = values[layer]!.narrow(2, start, count))
            slot.copy_(v);
        filled[layer] = start + count;
        if (layer == layers - 1)
            Length = filled[layer];
        return (keys[layer]!.narrow(2, 0, filled[layer]), values[layer]!.narrow(2, 0, filled[layer]));
    }

    /// <summary>A buffer like <paramref name="like"/> with <paramref name="size"/> positions holding the first <paramref name="keep"/> of <paramref name="old"/>.</summary>
    static Tensor Grown(Tensor? old, Tensor like, long keep, long size)
    {
        var buffer = zeros([like.shape[0], like.shape[1], size, like.shape[3]], like.dtype, like.device).DetachFromDisposeScope();
        if (old is not null)
        {
            using (old)
            using (var target = buffer.narrow(2, 0, keep))
            using (var source = old.narrow(2, 0, keep))
                target.copy_(source);
        }
        return buffer;
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
            filled[layer] = Math.Max(0, filled[layer] - leading);
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
