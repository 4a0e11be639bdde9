using LoraService.Tokenization.Examples;
using LoraService.Training.Data;
using LoraService.Training.Loop;
using LoraService.Training.Models;
using LoraService.Training.Pipeline;
using static TorchSharp.torch;

namespace LoraService.Training.Evaluation;

/// <summary>One sequence's scored labels: summed log-probability, how many were scored, how many the argmax predicted.</summary>
public readonly record struct SequenceScore(double SumLogProb, int ScoredTokens, int CorrectTokens);

/// <summary>
/// Next-token log-likelihood of many tokenized sequences, batched by length: sorted longest first and cut into batches
/// within <see cref="BatchLimits"/>, each right-padded to its longest sequence (causal attention never lets a real token
/// see the padding after it, and padding is never scored), so a sequence scores the same in any batch.
/// </summary>
public static class SequenceScoring
{
    /// <returns>One score per sequence, in the order given.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every batch).</exception>
    public static SequenceScore[] Score(nn.Module<Tensor, Tensor> model, IReadOnlyList<TokenizedExample> sequences, int padId,
        Device device, BatchLimits limits, CancellationToken cancellationToken = default)
    {
        var scores = new SequenceScore[sequences.Count];
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            foreach (var batch in limits.Plan(sequences.Select(s => s.Length).ToArray()))
            {
                cancellationToken.ThrowIfCancellationRequested();
                RunPulse.Beat();
                using var scope = NewDisposeScope();
                var collated = Batching.Collate(batch.Select(i => sequences[i]).ToList(), padId, device);
                var (logProbs, hits, mask) = model is CausalLM causalLm
                    ? CausalLmLoss.TokenScores(causalLm, collated.InputIds, collated.Labels)
                    : CausalLmLoss.TokenScores(model.call(collated.InputIds), collated.Labels);
                var sums = logProbs.to(ScalarType.Float64).sum(1).cpu().data<double>().ToArray();
                var counts = mask.sum(1).cpu().data<long>().ToArray();
                var correct = hits.sum(1).cpu().data<long>().ToArray();
                for (var r = 0; r < batch.Length; r++)
                    scores[batch[r]] = new SequenceScore(sums[r], (int)counts[r], (int)correct[r]);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return scores;
    }
}
