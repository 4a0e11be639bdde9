using System.Text.RegularExpressions;

namespace LoraService.Training.Evaluation;

/// <summary>
/// Exact-match answer extraction, GSM8K "strict match" style: the first match of the pattern's
/// first group in the generation; both sides are normalised by removing commas and dollar signs,
/// a trailing period and surrounding whitespace. A reference answer that is a full GSM8K solution
/// ("… #### 72") is reduced to the part after the last "#### ".
/// </summary>
public static partial class AnswerExtraction
{
    public const string Gsm8kStrictPattern = @"#### (\-?[0-9\.\,]+)";

    [GeneratedRegex(Gsm8kStrictPattern)]
    public static partial Regex Gsm8kStrict();

    public static string? Extract(string generation, Regex? pattern = null)
    {
        var match = (pattern ?? Gsm8kStrict()).Match(generation);
        if (!match.Success) return null;
        return match.Groups.Count > 1 ? match.Groups[1].Value : match.Value;
    }

    public static string Normalize(string answer)
    {
        var marker = answer.LastIndexOf("#### ", StringComparison.Ordinal);
        if (marker >= 0) answer = answer[(marker + 5)..];
        answer = answer.Replace(",", "").Replace("$", "").Trim();
        return answer.EndsWith('.') ? answer[..^1] : answer;
    }

    public static bool IsCorrect(string generation, string reference, Regex? pattern = null) =>
        Extract(generation, pattern) is { } extracted && Normalize(extracted) == Normalize(reference);
}
