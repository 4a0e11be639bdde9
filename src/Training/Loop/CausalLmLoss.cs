using LoraService.Tokenization.Examples;
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
