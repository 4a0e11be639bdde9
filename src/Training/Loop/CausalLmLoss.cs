using LoraService.Tokenization.Examples;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Loop;

public static class CausalLmLoss
{
    /// <summary>
    /// Summed token cross-entropy of next-token prediction: logits at position t predict labels at
    /// t + 1; labels −100 are skipped. Callers divide by the scored-token count they normalise over.
    /// </summary>
    public static Tensor Sum(Tensor logits, Tensor labels)
    {
        var vocab = logits.shape[^1];
        var shiftedLogits = logits[.., ..^1, ..].reshape(-1, vocab);
        var shiftedLabels = labels[.., 1..].reshape(-1);
        return nn.functional.cross_entropy(shiftedLogits.to(ScalarType.Float32), shiftedLabels,
            ignore_index: TokenizedExample.IgnoreIndex, reduction: nn.Reduction.Sum);
    }

    /// <summary>
    /// Per position of <c>[B, T−1]</c>: the log-probability of the next label (0 where unscored), whether the argmax
    /// predicted it (false where unscored), and which positions are scored. The logits are formed a block of rows
    /// at a time from the model's hidden states, so an evaluation batch never holds <c>[B, T, V]</c> at once (with a
    /// 152 k vocabulary, a 4096-token batch would need 2.5 GB for the logits and as much for their log-softmax).
    /// </summary>
    public static (Tensor LogProbs, Tensor Hits, Tensor Mask) TokenScores(CausalLM model, Tensor ids, Tensor labels,
        long blockElements = ChunkedLmLoss.DefaultBlockElements)
    {
        using var hidden = model.Hidden(ids, null);
        var (batch, length, width) = (hidden.shape[0], hidden.shape[1], hidden.shape[2]);
        using var flat = hidden[.., ..^1, ..].reshape(-1, width);
        using var next = labels[.., 1..].reshape(-1);
        using var safeNext = next.clamp_min(0);
        var rows = flat.shape[0];
        var logProbs = zeros(rows, ScalarType.Float32, ids.device);
        var hits = zeros(rows, ScalarType.Bool, ids.device);
        var blockRows = ChunkedLmLoss.BlockRows(model, blockElements);
        for (long start = 0; start < rows; start += blockRows)
        {
            using var block = NewDisposeScope();
            var count = Math.Min(blockRows, rows - start);
            var logits = model.Head(flat.narrow(0, start, count)).to(ScalarType.Float32);
            var picked = nn.functional.log_softmax(logits, dim: -1).gather(-1, safeNext.narrow(0, start, count).unsqueeze(-1)).squeeze(-1);
            logProbs.narrow(0, start, count).copy_(picked);
            hits.narrow(0, start, count).copy_(logits.argmax(-1).eq(next.narrow(0, start, count)));
        }
        var mask = next.ne(TokenizedExample.IgnoreIndex);
        using (logProbs)
        using (hits)
            return (logProbs.where(mask, zeros_like(logProbs)).view(batch, length - 1), hits.logical_and(mask).view(batch, length - 1),
                mask.view(batch, length - 1));
    }

    /// <summary><see cref="TokenScores(CausalLM, Tensor, Tensor, long)"/> from logits <c>[B, T, V]</c> already computed.</summary>
    public static (Tensor LogProbs, Tensor Hits, Tensor Mask) TokenScores(Tensor logits, Tensor labels)
    {
        var (logProbs, mask) = TokenLogProbs(logits, labels);
        var hits = logits[.., ..^1, ..].argmax(-1).eq(labels[.., 1..]).logical_and(mask);
        return (logProbs, hits, mask);
    }

    /// <summary>Per-position log-probability of each next label, <c>[B, T−1]</c>, 0 where unscored.</summary>
    public static (Tensor LogProbs, Tensor Mask) TokenLogProbs(Tensor logits, Tensor labels)
    {
        var logProbs = nn.functional.log_softmax(logits[.., ..^1, ..].to(ScalarType.Float32), dim: -1);
        var next = labels[.., 1..];
        var mask = next.ne(TokenizedExample.IgnoreIndex);
        var gathered = logProbs.gather(-1, next.clamp_min(0).unsqueeze(-1)).squeeze(-1);
        return (gathered.where(mask, zeros_like(gathered)), mask);
    }
}
