using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>Scaled dot-product attention over <c>[B, heads, T, D]</c> tensors, causal across the cached prefix.</summary>
public static class Attention
{
    /// <param name="window">Sliding window (Mistral): query at position p sees keys at p - window + 1 … p; null for none.</param>
    /// <param name="scale">Score scale; null for 1/√head_dim.</param>
    /// <param name="softcap">Gemma 2: scores become cap·tanh(scores/cap) before masking; null for none.</param>
    public static Tensor Causal(Tensor q, Tensor k, Tensor v, Tensor? keyMask = null, int? window = null, double? scale = null, double? softcap = null)
    {
        var (t, s) = (q.shape[2], k.shape[2]);
        var windowed = window is { } w && s > w;
        if (softcap is not null || scale is not null)
            return Eager(q, k, v, Allowed(t, s, windowed ? window : null, keyMask, q.device), scale ?? 1 / Math.Sqrt(q.shape[^1]), softcap);
        if (keyMask is null && !windowed)
        {
            if (t == s)
                return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
            if (t == 1)
                return nn.functional.scaled_dot_product_attention(q, k, v);
        }
        var allowed = Allowed(t, s, windowed ? window : null, keyMask, q.device);
        if (keyMask is null)
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: allowed);
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: Additive(allowed, q.dtype));
    }

    /// <summary>
    /// Which keys each query sees, <c>[t, s]</c> or with a key mask <c>[B, 1, t, s]</c>: query i is at position s - t + i and sees
    /// keys up to there (and, windowed, none <paramref name="window"/> or more before).
    /// </summary>
    static Tensor Allowed(long t, long s, int? window, Tensor? keyMask, Device device)
    {
        var allowed = ones([t, s], ScalarType.Bool, device).tril(s - t);
        if (window is { } w)
            allowed = allowed.logical_and(ones([t, s], ScalarType.Bool, device).triu(s - t - w + 1));
        return keyMask is null ? allowed : allowed.logical_and(keyMask.to_type(ScalarType.Bool)[.., TensorIndex.None, TensorIndex.None, ..]);
    }

    // Additive mask with the dtype's minimum, as transformers builds it: a query whose keys are all
    // padding then attends uniformly instead of producing NaN.
    static Tensor Additive(Tensor allowed, ScalarType dtype) =>
        zeros(allowed.shape, dtype, allowed.device).masked_fill(allowed.logical_not(), MinValue(dtype));

    /// <summary>transformers' eager attention: scaled scores, optional soft-capping, additive mask, float32 softmax.</summary>
    static Tensor Eager(Tensor q, Tensor k, Tensor v, Tensor allowed, double scale, double? softcap)
    {
        var scores = q.matmul(k.transpose(-2, -1)).mul(scale);
        if (softcap is { } cap)
            scores = scores.div(cap).tanh().mul(cap);
        var probabilities = scores.add(Additive(allowed, q.dtype)).softmax(-1, ScalarType.Float32).to_type(q.dtype);
        return probabilities.matmul(v);
    }

    static double MinValue(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float16 => -65504.0,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };

    /// <summary>Repeats each key/value head <paramref name="times"/> for grouped-query attention (HF <c>repeat_kv</c>).</summary>
    public static Tensor RepeatKv(Tensor x, int times) => times == 1 ? x : x.repeat_interleave(times, dim: 1);
}
