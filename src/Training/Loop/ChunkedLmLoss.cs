using LoraService.Tokenization.Examples;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Loop;

/// <summary>
/// Next-token cross-entropy whose <c>[tokens, vocab]</c> logits never exist whole. The model runs up to its final
/// hidden states; only the positions with a scored next label go through the output head, a block of rows at a
/// time, and each block's loss is back-propagated into the head (and into a detached copy of the hidden states)
/// before the next block's logits are formed. The hidden states' gradient, summed over the blocks, then runs the
/// backward of the decoder. The loss and gradients are those of <see cref="CausalLmLoss.Sum"/> divided by the
/// normaliser: the loss is a sum over rows, so its gradient is the sum of the blocks' gradients. With a 152 k
/// vocabulary and 512 positions this keeps one 64 MB block of logits, their log-softmax and their gradient alive
/// instead of 311 MB each.
/// </summary>
public static class ChunkedLmLoss
{
    /// <summary>Logits formed per block: 16 M float32 values, 64 MB.</summary>
    public const long DefaultBlockElements = 1L << 24;

    /// <summary>
    /// Runs <paramref name="model"/> on <paramref name="inputIds"/>, back-propagates
    /// <c>Σ cross-entropy / normaliser</c> over the labels that are not −100 (label t + 1 for position t), and
    /// returns that loss. Gradients accumulate into the parameters as <c>loss.backward()</c> would.
    /// </summary>
    public static double Backward(CausalLM model, Tensor inputIds, Tensor labels, double normaliser,
        long blockElements = DefaultBlockElements)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(inputIds, null);
        var width = hidden.shape[^1];
        var next = labels[.., 1..].reshape(-1);
        var scoredRows = next.ne(TokenizedExample.IgnoreIndex).nonzero().squeeze(-1);
        var rows = scoredRows.shape[0];
        if (rows == 0)
            return 0;
        var scoredHidden = hidden[.., ..^1, ..].reshape(-1, width).index_select(0, scoredRows);
        hidden.Dispose();
        var targets = next.index_select(0, scoredRows);
        var blockRows = BlockRows(model, blockElements);
        if (rows <= blockRows)
            return BackwardBlock(model, scoredHidden, targets, normaliser); // one ordinary backward, head and decoder
        var detached = scoredHidden.detach().requires_grad_(scoredHidden.requires_grad);
        var total = 0.0;
        for (long start = 0; start < rows; start += blockRows)
        {
            using var block = NewDisposeScope();
            var length = Math.Min(blockRows, rows - start);
            total += BackwardBlock(model, detached.narrow(0, start, length), targets.narrow(0, start, length), normaliser);
        }
        if (detached.grad is { } gradient)
            scoredHidden.backward([gradient]);
        return total;
    }

    /// <summary>Rows of logits per block: as many as fit <paramref name="blockElements"/>, at least one.</summary>
    internal static long BlockRows(CausalLM model, long blockElements) => Math.Max(1, blockElements / model.Config.VocabSize);

    /// <summary>The summed cross-entropy of one block of rows over the normaliser, back-propagated; returns its value.</summary>
    static double BackwardBlock(CausalLM model, Tensor hidden, Tensor targets, double normaliser)
    {
        Tensor loss;
        // The logits' handles are released before backward: autograd keeps only the log-softmax it needs.
        using (var logits = model.Head(hidden))
        using (var asFloat = logits.dtype == ScalarType.Float32 ? logits.alias() : logits.to(ScalarType.Float32))
        using (var sum = nn.functional.cross_entropy(asFloat, targets, reduction: nn.Reduction.Sum))
            loss = sum.div(normaliser);
        if (loss.requires_grad)
            loss.backward();
        return loss.item<float>();
    }
}
