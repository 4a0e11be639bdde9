using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>Scaled dot-product attention over <c>[B, heads, T, D]</c> tensors, causal across the cached prefix.</summary>
static class Attention
{
    public static Tensor Causal(Tensor q, Tensor k, Tensor v)
    {
        var (t, s) = (q.shape[2], k.shape[2]);
        if (t == s)
            return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        if (t == 1)
            return nn.functional.scaled_dot_product_attention(q, k, v);
        // Several new queries after a cached prefix: query i sees keys up to (s - t + i).
        var mask = ones([t, s], ScalarType.Bool, q.device).tril(s - t);
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
    }

    /// <summary>Repeats each key/value head <paramref name="times"/> for grouped-query attention (HF <c>repeat_kv</c>).</summary>
    public static Tensor RepeatKv(Tensor x, int times) => times == 1 ? x : x.repeat_interleave(times, dim: 1);
}
