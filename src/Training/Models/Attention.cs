using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>Scaled dot-product attention over <c>[B, heads, T, D]</c> tensors, causal across the cached prefix.</summary>
public static class Attention
{
    /// <param name="window">Sliding window (Mistral): query at position p sees keys at p - window + 1 … p; null for none.</param>
    public static Tensor Causal(Tensor q, Tensor k, Tensor v, Tensor? keyMask = null, int? window = null)
    {
        var (t, s) = (q.shape[2], k.shape[2]);
        var windowed = window is { } w && s > w;
        if (keyMask is null && !windowed)
        {
            if (t == s)
                return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
            if (t == 1)
                return nn.functional.scaled_dot_product_attention(q, k, v);
        }
        // Query i is at position s - t + i: it sees keys up to there (and, windowed, none more than window - 1 before).
        var allowed = ones([t, s], ScalarType.Bool, q.device).tril(s - t);
        if (windowed)
            allowed = allowed.logical_and(ones([t, s], ScalarType.Bool, q.device).triu(s - t - window!.Value + 1));
        if (keyMask is null)
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: allowed);
        // Additive mask with the dtype's minimum, as transformers builds it: a query whose keys are all
        // padding then attends uniformly instead of producing NaN.
        allowed = allowed.logical_and(keyMask.to_type(ScalarType.Bool)[.., TensorIndex.None, TensorIndex.None, ..]);
        var additive = zeros(allowed.shape, q.dtype, q.device).masked_fill(allowed.logical_not(), MinValue(q.dtype));
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: additive);
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
