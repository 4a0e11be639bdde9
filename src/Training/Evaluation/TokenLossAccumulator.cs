namespace LoraService.Training.Evaluation;

/// <summary>
/// Running totals over scored tokens. <c>loss</c> = Σ cross-entropy / scored tokens (the mean over
/// tokens, not over sequences), <c>perplexity</c> = exp(loss), <c>token_accuracy</c> = share of scored
/// tokens whose argmax prediction equals the label.
/// </summary>
public sealed class TokenLossAccumulator
{
    public double SumCrossEntropy { get; private set; }
    public long ScoredTokens { get; private set; }
    public long CorrectTokens { get; private set; }

    public void Add(double sumCrossEntropy, long scoredTokens, long correctTokens)
    {
        SumCrossEntropy += sumCrossEntropy;
        ScoredTokens += scoredTokens;
        CorrectTokens += correctTokens;
    }

    public double Loss => ScoredTokens == 0 ? double.NaN : SumCrossEntropy / ScoredTokens;
    public double Perplexity => Math.Exp(Loss);
    public double TokenAccuracy => ScoredTokens == 0 ? double.NaN : (double)CorrectTokens / ScoredTokens;

    public IReadOnlyDictionary<string, double> Metrics() => new Dictionary<string, double>
    {
        ["loss"] = Loss,
        ["perplexity"] = Perplexity,
        ["token_accuracy"] = TokenAccuracy,
    };
}
