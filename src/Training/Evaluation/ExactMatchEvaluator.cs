using System.Text.RegularExpressions;
using LoraService.Datasets;
using LoraService.Training.Pipeline;
using LoraService.Tokenization;

namespace LoraService.Training.Evaluation;

/// <param name="MaxNewTokens">Generation budget per prompt.</param>
/// <param name="AnswerPattern">Extraction regex (first group); default GSM8K strict match.</param>
public sealed record ExactMatchOptions(int MaxNewTokens = 256, Regex? AnswerPattern = null);

/// <summary>Greedy-generates an answer for each prompt and reports <c>exact_match</c> (see <see cref="AnswerExtraction"/>).</summary>
public static class ExactMatchEvaluator
{
    /// <param name="generate">Greedy generation supplied by the model side: prompt ids and a token budget in,
    /// new token ids out (generation may stop early at EOS; anything after EOS is ignored here). Pass it the same token
    /// (e.g. <see cref="Models.CausalLM.GenerateGreedy"/>'s) so a cancel also stops a long generation.</param>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every example).</exception>
    public static IReadOnlyDictionary<string, double> Evaluate(
        ITokenizer tokenizer, IReadOnlyList<ExactMatchExample> examples, Func<int[], int, int[]> generate,
        ExactMatchOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ExactMatchOptions();
        var correct = 0;
        foreach (var example in examples)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RunPulse.Beat();
            var prompt = new List<int>();
            if (tokenizer.AddBos && tokenizer.Special.BosId is { } bos) prompt.Add(bos);
            prompt.AddRange(tokenizer.Encode(example.Prompt));
            var generated = generate(prompt.ToArray(), options.MaxNewTokens);
            var text = tokenizer.Decode(generated.TakeWhile(id => id != tokenizer.Special.EosId).ToArray());
            if (AnswerExtraction.IsCorrect(text, example.Answer, options.AnswerPattern)) correct++;
        }
        return new Dictionary<string, double> { ["exact_match"] = examples.Count == 0 ? double.NaN : (double)correct / examples.Count };
    }
}
