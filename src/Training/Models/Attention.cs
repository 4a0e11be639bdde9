using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>Scaled dot-product attention over <c>[B, heads, T, D]</c> tensors, causal across the cached prefix.</summary>
static class Attention
{
    public static Tensor Causal(Tensor q, Tensor k, Tensor v, Tensor? keyMask = null)
    {
        var (t, s) = (q.shape[2], k.shape[2]);
        if (keyMask is not null)
        {
            // Additive mask with the dtype's minimum, as transformers builds it: a query whose keys are all
            // padding then attends uniformly instead of producing NaN.
            var allowed = ones([t, s], ScalarType.Bool, q.device).tril(s - t).logical_and(keyMask.to_type(ScalarType.Bool)[.., TensorIndex.None, TensorIndex.None, ..]);
            var additive = zeros(allowed.shape, q.dtype, q.device).masked_fill(allowed.logical_not(), MinValue(q.dtype));
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: additive);
        }
        if (t == s)
            return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        if (t == 1)
            return nn.functional.scaled_dot_product_attention(q, k, v);
        // Several new queries after a cached prefix: query i sees keys up to (s - t + i).
        var mask = ones([t, s], ScalarType.Bool, q.device).tril(s - t);
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
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
