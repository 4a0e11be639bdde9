using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Tokenization;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Evaluation;

/// <param name="Delimiter">Put between context and choice unless the context already ends, or the
/// choice starts, with whitespace (lm-evaluation-harness's <c>target_delimiter</c>).</param>
/// <param name="MaxSequenceLength">Longer context+choice sequences lose context tokens from the left.</param>
/// <param name="Batches">Rows and padded tokens per forward pass (<see cref="BatchLimits.Default"/> when null).</param>
/// <param name="Samples">How many of the first questions are kept as <see cref="EvalSample"/>s.</param>
public sealed record MultipleChoiceOptions(string Delimiter = " ", int MaxSequenceLength = 2048, BatchLimits? Batches = null, int Samples = 3);

/// <summary>
/// Scores each choice's continuation log-likelihood; reports <c>acc</c> and <c>acc_norm</c> (see <see cref="MultipleChoiceScoring"/>).
/// All choices of all questions are scored in batches of similar length (<see cref="SequenceScoring"/>).
/// </summary>
public static class MultipleChoiceEvaluator
{
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every batch).</exception>
    public static SetEvaluation Evaluate(
        nn.Module<Tensor, Tensor> model, ITokenizer tokenizer, IReadOnlyList<MultipleChoiceExample> examples,
        Device device, MultipleChoiceOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MultipleChoiceOptions();
        cancellationToken.ThrowIfCancellationRequested();
        var sequences = examples
            .SelectMany(example => example.Choices.Select(choice => Build(tokenizer, example.Context, choice, options)))
            .ToList();
        var scores = SequenceScoring.Score(model, sequences, tokenizer.Special.PaddingId, device,
            options.Batches ?? BatchLimits.Default, cancellationToken)
            .Select(s => new ChoiceScore(s.SumLogProb, s.ScoredTokens)).ToArray();

        int acc = 0, accNorm = 0, offset = 0;
        var samples = new List<EvalSample>();
        for (var i = 0; i < examples.Count; i++)
        {
            var example = examples[i];
            var choices = scores[offset..(offset + example.Choices.Count)];
            var (right, rightNorm) = MultipleChoiceScoring.Score(choices, example.Label);
            acc += right ? 1 : 0;
            accNorm += rightNorm ? 1 : 0;
            offset += example.Choices.Count;
            if (i < options.Samples)
                samples.Add(EvalSample.Create(example.Context, example.Choices[MultipleChoiceScoring.PickNorm(choices)],
                    example.Choices[example.Label], rightNorm));
        }
        var metrics = new Dictionary<string, double>
        {
            ["acc"] = (double)acc / examples.Count,
            ["acc_norm"] = (double)accNorm / examples.Count,
        };
        return new SetEvaluation(metrics, samples);
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
