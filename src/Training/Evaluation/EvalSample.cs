namespace LoraService.Training.Evaluation;

/// <summary>
/// One example of what the model did at an evaluation, for people to read: the prompt, the model's output and the
/// expected answer. Exact-match sets: the greedy generation (up to EOS) and the reference answer. Multiple-choice
/// sets: the context, the choice the model ranks first by <c>acc_norm</c>, and the labelled choice. Each text is cut
/// to <see cref="MaxChars"/> characters.
/// </summary>
/// <param name="Correct">Whether the output counts as right (exact match, or the acc_norm pick is the label).</param>
public sealed record EvalSample(string Prompt, string Output, string Expected, bool Correct)
{
    public const int MaxChars = 4000;

    public static EvalSample Create(string prompt, string output, string expected, bool correct) =>
        new(Cut(prompt), Cut(output), Cut(expected), correct);

    static string Cut(string text)
    {
        if (text.Length <= MaxChars)
            return text;
        var end = MaxChars - 1;
        if (char.IsHighSurrogate(text[end - 1]))
            end--; // never split a surrogate pair
        return text[..end] + "…";
    }
}

/// <summary>A set's metrics at one evaluation and the samples recorded with them (none for loss-only sets).</summary>
public sealed record SetEvaluation(IReadOnlyDictionary<string, double> Metrics, IReadOnlyList<EvalSample> Samples)
{
    public static SetEvaluation MetricsOnly(IReadOnlyDictionary<string, double> metrics) => new(metrics, []);
}
