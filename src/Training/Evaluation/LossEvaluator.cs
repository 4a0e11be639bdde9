using LoraService.Tokenization.Examples;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Evaluation;

/// <summary>Mean token cross-entropy, perplexity and token accuracy of a model on tokenized examples, batched by length.</summary>
public static class LossEvaluator
{
    /// <returns><c>loss</c>, <c>perplexity</c>, <c>token_accuracy</c> (see <see cref="TokenLossAccumulator"/>).</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every batch).</exception>
    public static IReadOnlyDictionary<string, double> Evaluate(
        nn.Module<Tensor, Tensor> model, IReadOnlyList<TokenizedExample> examples, BatchLimits limits, int padId, Device device,
        CancellationToken cancellationToken = default)
    {
        var totals = new TokenLossAccumulator();
        foreach (var score in SequenceScoring.Score(model, examples, padId, device, limits, cancellationToken))
            totals.Add(-score.SumLogProb, score.ScoredTokens, score.CorrectTokens);
        return totals.Metrics();
    }

    /// <summary>At most <paramref name="batchSize"/> examples per forward pass, whatever their length.</summary>
    public static IReadOnlyDictionary<string, double> Evaluate(
        nn.Module<Tensor, Tensor> model, IReadOnlyList<TokenizedExample> examples, int batchSize, int padId, Device device,
        CancellationToken cancellationToken = default) =>
        Evaluate(model, examples, new BatchLimits(batchSize, int.MaxValue), padId, device, cancellationToken);
}
