using System.Text.RegularExpressions;
using LoraService.Datasets;
using LoraService.Tokenization;

namespace LoraService.Training.Evaluation;

/// <param name="MaxNewTokens">Generation budget per prompt.</param>
/// <param name="AnswerPattern">Extraction regex (first group); default GSM8K strict match.</param>
/// <param name="Samples">How many of the first prompts are kept as <see cref="EvalSample"/>s.</param>
public sealed record ExactMatchOptions(int MaxNewTokens = 256, Regex? AnswerPattern = null, int Samples = 3);

/// <summary>Greedy-generates an answer for each prompt and reports <c>exact_match</c> (see <see cref="AnswerExtraction"/>).</summary>
public static class ExactMatchEvaluator
{
    /// <param name="generate">Greedy generation supplied by the model side, for all prompts at once: prompt ids and a token
    /// budget in, each prompt's new token ids out (in order; generation may stop early at EOS, and anything after EOS is
    /// ignored here), e.g. <see cref="Models.BatchedGreedy.Generate(Models.CausalLM, IReadOnlyList{int[]}, int, int?, Models.BatchLimits?, CancellationToken)"/>.
    /// Pass it the same token so a cancel also stops a long generation.</param>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static SetEvaluation Evaluate(
        ITokenizer tokenizer, IReadOnlyList<ExactMatchExample> examples, Func<IReadOnlyList<int[]>, int, int[][]> generate,
        ExactMatchOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ExactMatchOptions();
        cancellationToken.ThrowIfCancellationRequested();
        var prompts = examples.Select(e => Prompt(tokenizer, e.Prompt)).ToList();
        var generations = examples.Count == 0 ? [] : generate(prompts, options.MaxNewTokens);
        if (generations.Length != examples.Count)
            throw new InvalidOperationException($"generation returned {generations.Length} outputs for {examples.Count} prompts");
        var correct = 0;
        var samples = new List<EvalSample>();
        for (var i = 0; i < examples.Count; i++)
        {
            var text = tokenizer.Decode(generations[i].TakeWhile(id => id != tokenizer.Special.EosId).ToArray());
            var right = AnswerExtraction.IsCorrect(text, examples[i].Answer, options.AnswerPattern);
            if (right) correct++;
            if (i < options.Samples)
                samples.Add(EvalSample.Create(examples[i].Prompt, text, examples[i].Answer, right));
        }
        var metrics = new Dictionary<string, double> { ["exact_match"] = examples.Count == 0 ? double.NaN : (double)correct / examples.Count };
        return new SetEvaluation(metrics, samples);
    }

    static int[] Prompt(ITokenizer tokenizer, string text)
    {
        var prompt = new List<int>();
        if (tokenizer.AddBos && tokenizer.Special.BosId is { } bos) prompt.Add(bos);
        prompt.AddRange(tokenizer.Encode(text));
        return [.. prompt];
    }
}
