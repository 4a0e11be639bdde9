using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>Mistral's sliding window: a query at position p attends to keys p - window + 1 … p (transformers' mask).</summary>
public sealed class SlidingWindowTests
{
    static Tensor Reference(Tensor q, Tensor k, Tensor v, int window)
    {
        var (t, s) = (q.shape[2], k.shape[2]);
        var scores = q.matmul(k.transpose(-2, -1)).div(Math.Sqrt(q.shape[^1]));
        var mask = zeros([t, s], ScalarType.Bool);
        for (var i = 0; i < t; i++)
        {
            var p = s - t + i;
            for (var j = 0; j < s; j++)
                mask[i, j] = tensor(j > p || j <= p - window);
        }
        return scores.masked_fill(mask, double.NegativeInfinity).softmax(-1).matmul(v);
    }

    [Theory]
    [InlineData(12, 12, 4)]
    [InlineData(3, 12, 5)]  // queries after a cached prefix
    [InlineData(1, 12, 5)]  // one generated token
    [InlineData(12, 12, 12)] // window covering everything
    public void Attention_matches_a_hand_written_windowed_softmax(int queries, int keys, int window)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var q = randn(2, 3, queries, 8);
        var (k, v) = (randn(2, 3, keys, 8), randn(2, 3, keys, 8));
        var actual = Attention.Causal(q, k, v, window: window);
        Assert.True(actual.allclose(Reference(q, k, v, window), rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Windowed_attention_with_a_padding_mask_hides_both()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var (q, k, v) = (randn(1, 2, 6, 8), randn(1, 2, 6, 8), randn(1, 2, 6, 8));
        var keyMask = tensor(new long[] { 1, 1, 1, 1, 1, 1 }).unsqueeze(0);
        Assert.True(Attention.Causal(q, k, v, keyMask, window: 3).allclose(Reference(q, k, v, 3), rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Mistral_window_applies_once_the_sequence_is_longer()
    {
        using var scope = NewDisposeScope();
        var (ids, expected) = Golden.Reference("mistral-f32");
        using var model = CheckpointLoader.Load(Golden.Dir("mistral-f32"));
        Assert.Equal(64, model.Config.SlidingWindow);
        using var narrow = CheckpointLoader.Create(model.Config with { SlidingWindow = 4 });
        narrow.load_state_dict(model.state_dict());
        using var _ = no_grad();
        var logits = narrow.call(tensor(ids).unsqueeze(0));
        // The first four positions see no more than four keys either way; later ones lose the far keys.
        Assert.True(logits[0, ..4].allclose(expected[0, ..4], rtol: 0, atol: 2e-5));
        Assert.False(logits[0, 4..].allclose(expected[0, 4..], rtol: 0, atol: 1e-3));
    }
}
