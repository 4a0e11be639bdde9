namespace LoraService.Training.Evaluation;

/// <summary>Log-likelihood of one choice's continuation tokens given the context.</summary>
public sealed record ChoiceScore(double SumLogProb, int TokenCount)
{
    public double MeanLogProb => TokenCount == 0 ? double.NegativeInfinity : SumLogProb / TokenCount;
}

/// <summary>
/// Multiple-choice accuracy from per-choice log-likelihoods.
/// <list type="bullet">
/// <item><c>acc</c>: the choice with the highest summed log-probability is the prediction.</item>
/// <item><c>acc_norm</c>: the choice with the highest per-token mean log-probability (sum ÷ number of
/// continuation tokens) is the prediction, i.e. the lowest continuation perplexity. This is how the
/// MosaicML Gauntlet scores multiple choice (Composer's <c>InContextLearningMultipleChoiceAccuracy</c>
/// picks "the lowest perplexity"), the evaluation <i>LoRA Learns Less and Forgets Less</i>
/// (Biderman et al., 2024) used. It differs from lm-evaluation-harness's <c>acc_norm</c>, which
/// divides by the continuation's length in bytes.</item>
/// </list>
/// Ties go to the lowest index.
/// </summary>
public static class MultipleChoiceScoring
{
    public static (bool Acc, bool AccNorm) Score(IReadOnlyList<ChoiceScore> choices, int label) =>
        (ArgMax(choices.Select(c => c.SumLogProb)) == label, ArgMax(choices.Select(c => c.MeanLogProb)) == label);

    /// <summary>The index of the choice <c>acc_norm</c> picks.</summary>
    public static int PickNorm(IReadOnlyList<ChoiceScore> choices) => ArgMax(choices.Select(c => c.MeanLogProb));

    private static int ArgMax(IEnumerable<double> values)
    {
        var best = -1;
        var bestValue = double.NegativeInfinity;
        var i = 0;
        foreach (var value in values)
        {
            if (best < 0 || value > bestValue)
            {
                best = i;
                bestValue = value;
            }
            i++;
        }
        return best;
    }
}
