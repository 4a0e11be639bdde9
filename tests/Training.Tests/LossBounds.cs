using LoraService.Tokenization.Examples;

namespace LoraService.Training.Tests;

/// <summary>Loss levels derived from the vocabulary and the data, not copied from observed runs.</summary>
internal static class LossBounds
{
    /// <summary>
    /// Where a freshly initialised model starts: with logits of spread σ that know nothing of the target, the mean
    /// cross-entropy is ln(vocab) + O(σ²/2) ± O(σ/√targets). Callers state their σ and tolerance.
    /// </summary>
    public static double Uniform(int vocab) => Math.Log(vocab);

    /// <summary>
    /// Entropy of the scored next tokens' frequencies in <paramref name="examples"/>: the lowest mean loss on them of any
    /// model that ignores its input (cross-entropy ≥ entropy). A loss below it shows the model learnt to use the context.
    /// </summary>
    public static double ContextFree(IEnumerable<TokenizedExample> examples)
    {
        var counts = examples.SelectMany(e => e.Labels.Skip(1)).Where(l => l != TokenizedExample.IgnoreIndex)
            .CountBy(l => l).Select(c => (double)c.Value).ToList();
        var total = counts.Sum();
        return -counts.Sum(c => c / total * Math.Log(c / total));
    }
}
