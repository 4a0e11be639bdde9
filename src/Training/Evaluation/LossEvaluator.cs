using LoraService.Tokenization.Examples;
using LoraService.Training.Data;
using LoraService.Training.Pipeline;
using LoraService.Training.Loop;
using static TorchSharp.torch;

namespace LoraService.Training.Evaluation;

/// <summary>Mean token cross-entropy, perplexity and token accuracy of a model on tokenized examples.</summary>
public static class LossEvaluator
{
    /// <returns><c>loss</c>, <c>perplexity</c>, <c>token_accuracy</c> (see <see cref="TokenLossAccumulator"/>).</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every batch).</exception>
    public static IReadOnlyDictionary<string, double> Evaluate(
        nn.Module<Tensor, Tensor> model, IReadOnlyList<TokenizedExample> examples, int batchSize, int padId, Device device,
        CancellationToken cancellationToken = default)
    {
        var totals = new TokenLossAccumulator();
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            foreach (var chunk in examples.Chunk(batchSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                RunPulse.Beat();
                using var scope = NewDisposeScope();
                var batch = Batching.Collate(chunk, padId, device);
                var logits = model.call(batch.InputIds);
                var sum = CausalLmLoss.Sum(logits, batch.Labels).item<float>();
                var next = batch.Labels[.., 1..];
                var predicted = logits[.., ..^1, ..].argmax(-1);
                var correct = predicted.eq(next).logical_and(next.ne(TokenizedExample.IgnoreIndex)).sum().item<long>();
                totals.Add(sum, batch.ScoredTokens, correct);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return totals.Metrics();
    }
}
