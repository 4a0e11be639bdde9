using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Training.Data;
using LoraService.Training.Pipeline;
using LoraService.Tokenization;
using LoraService.Training.Loop;
using static TorchSharp.torch;

namespace LoraService.Training.Evaluation;

/// <param name="Delimiter">Put between context and choice unless the context already ends, or the
/// choice starts, with whitespace (lm-evaluation-harness's <c>target_delimiter</c>).</param>
/// <param name="MaxSequenceLength">Longer context+choice sequences lose context tokens from the left.</param>
public sealed record MultipleChoiceOptions(int BatchSize = 8, string Delimiter = " ", int MaxSequenceLength = 2048);

/// <summary>Scores each choice's continuation log-likelihood; reports <c>acc</c> and <c>acc_norm</c> (see <see cref="MultipleChoiceScoring"/>).</summary>
public static class MultipleChoiceEvaluator
{
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every batch).</exception>
    public static IReadOnlyDictionary<string, double> Evaluate(
        nn.Module<Tensor, Tensor> model, ITokenizer tokenizer, IReadOnlyList<MultipleChoiceExample> examples,
        Device device, MultipleChoiceOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MultipleChoiceOptions();
        cancellationToken.ThrowIfCancellationRequested();
        var sequences = examples
            .SelectMany((example, index) => example.Choices.Select(choice => (index, Sequence: Build(tokenizer, example.Context, choice, options))))
            .ToList();
        var scores = new ChoiceScore[sequences.Count];
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            for (var start = 0; start < sequences.Count; start += options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                RunPulse.Beat();
                using var scope = NewDisposeScope();
                var chunk = sequences.Skip(start).Take(options.BatchSize).Select(s => s.Sequence).ToList();
                var batch = Batching.Collate(chunk, tokenizer.Special.PaddingId, device);
                var (logProbs, mask) = CausalLmLoss.TokenLogProbs(model.call(batch.InputIds), batch.Labels);
                var sums = logProbs.sum(1).cpu().to(ScalarType.Float64).data<double>().ToArray();
                var counts = mask.sum(1).cpu().data<long>().ToArray();
                for (var i = 0; i < chunk.Count; i++)
                    scores[start + i] = new ChoiceScore(sums[i], (int)counts[i]);
            }
        }
        finally
        {
            model.train(wasTraining);
        }

        int acc = 0, accNorm = 0, offset = 0;
        foreach (var example in examples)
        {
            var (right, rightNorm) = MultipleChoiceScoring.Score(scores[offset..(offset + example.Choices.Count)], example.Label);
            acc += right ? 1 : 0;
            accNorm += rightNorm ? 1 : 0;
            offset += example.Choices.Count;
        }
        return new Dictionary<string, double>
        {
            ["acc"] = (double)acc / examples.Count,
            ["acc_norm"] = (double)accNorm / examples.Count,
        };
    }

    /// <summary>[bos] context [delimiter] choice, labels only on the choice tokens.</summary>
    public static TokenizedExample Build(ITokenizer tokenizer, string context, string choice, MultipleChoiceOptions options)
    {
        var needsDelimiter = context.Length > 0 && !char.IsWhiteSpace(context[^1]) && choice.Length > 0 && !char.IsWhiteSpace(choice[0]);
        var contextIds = new List<int>();
        if (tokenizer.AddBos && tokenizer.Special.BosId is { } bos) contextIds.Add(bos);
        contextIds.AddRange(tokenizer.Encode(context));
        var choiceIds = tokenizer.Encode((needsDelimiter ? options.Delimiter : "") + choice);
        // Keep at least one context token: the first choice token is predicted from the position before it.
        var keepContext = Math.Max(1, Math.Min(contextIds.Count, options.MaxSequenceLength - choiceIds.Length));
        var ids = contextIds.Skip(contextIds.Count - keepContext).Concat(choiceIds).ToArray();
        var labels = Enumerable.Repeat(TokenizedExample.IgnoreIndex, keepContext).Concat(choiceIds).ToArray();
        return new TokenizedExample(ids, labels);
    }
}
