using LoraService.Tokenization.Examples;
using LoraService.Training.Data;
using LoraService.Training.Loop;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class BatchingTests
{
    [Fact]
    public void Collate_pads_right_and_never_scores_padding()
    {
        var batch = Batching.Collate(
        [
            new TokenizedExample([1, 2, 3], [-100, 2, 3]),
            new TokenizedExample([4, 5], [4, 5]),
        ], padId: 0);

        Assert.Equal(new long[] { 2, 3 }, batch.InputIds.shape);
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 0 }, batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { -100, 2, 3, 4, 5, -100 }, batch.Labels.data<long>().ToArray());
        Assert.Equal(ScalarType.Int64, batch.InputIds.dtype);
        Assert.Equal(3, batch.ScoredTokens);   // positions ≥ 1 with a label: 2, 3 and 5
        Assert.Equal(5, batch.RealTokens);
    }

    [Fact]
    public void Epoch_order_is_a_seeded_permutation()
    {
        var a = Batching.EpochOrder(50, seed: 1, epoch: 0);
        Assert.Equal(Enumerable.Range(0, 50), a.Order());
        Assert.Equal(a, Batching.EpochOrder(50, seed: 1, epoch: 0));
        Assert.NotEqual(a, Batching.EpochOrder(50, seed: 1, epoch: 1));
        Assert.NotEqual(a, Batching.EpochOrder(50, seed: 2, epoch: 0));
        Assert.Equal(Enumerable.Range(0, 50), Batching.EpochOrder(50, 1, 0, shuffle: false));
    }

    [Fact]
    public void Causal_loss_shifts_and_ignores_unscored_labels()
    {
        // Vocabulary 3. Position 0 predicts label[1] = 2, position 1 predicts label[2] = −100 (skipped).
        var logits = tensor(new float[] { 0, 0, 0, 1, 2, 3, 9, 9, 9 }, [1, 3, 3]);
        var labels = tensor(new long[] { 7, 2, -100 }, [1, 3]);

        var loss = CausalLmLoss.Sum(logits, labels).item<float>();

        Assert.Equal(Math.Log(3), loss, 5);   // uniform logits at position 0
        var (logProbs, mask) = CausalLmLoss.TokenLogProbs(logits, labels);
        Assert.Equal(new[] { true, false }, mask.data<bool>().ToArray());
        Assert.Equal(-Math.Log(3), logProbs[0, 0].item<float>(), 5);
        Assert.Equal(0f, logProbs[0, 1].item<float>());
    }
}
