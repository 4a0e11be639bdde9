using System.Text.Json;

namespace LoraService.Datasets.Samples;

/// <summary>
/// Small generated datasets for the quickstart, the demo and the tests. The story is the paper's in miniature:
/// a "source domain" of simple sentences the base model is pretrained on (and may forget), and a "target domain" of
/// two-digit addition with GSM8K-style answers (<c>#### 19</c>) that a fine-tune should learn.
/// </summary>
public static class SampleDatasets
{
    private static readonly string[] Animals = ["cat", "dog", "bird", "fish", "cow", "fox", "owl", "bee"];
    private static readonly string[] Places = ["mat", "log", "tree", "pond", "barn", "den", "hill", "hive"];

    /// <summary>Source-domain text: "the cat sat on the mat." — each animal has its own place.</summary>
    public static IEnumerable<string> SourceText(int rows, int seed = 1)
    {
        var random = new Random(seed);
        for (var i = 0; i < rows; i++)
        {
            var a = random.Next(Animals.Length);
            yield return Json(new { text = $"the {Animals[a]} sat on the {Places[a]}." });
        }
    }

    /// <summary>Source-domain multiple choice: where does the animal sit? Label = its own place.</summary>
    public static IEnumerable<string> SourceMultipleChoice(int rows, int seed = 2)
    {
        var random = new Random(seed);
        for (var i = 0; i < rows; i++)
        {
            var a = random.Next(Animals.Length);
            var wrong = (a + 1 + random.Next(Animals.Length - 1)) % Animals.Length;
            var label = random.Next(2);
            string[] choices = label == 0 ? [Places[a] + ".", Places[wrong] + "."] : [Places[wrong] + ".", Places[a] + "."];
            yield return Json(new { context = $"the {Animals[a]} sat on the", choices, label });
        }
    }

    /// <summary>Target-domain training data: "12+7=" → "19 #### 19".</summary>
    public static IEnumerable<string> ArithmeticPromptCompletion(int rows, int seed = 3) =>
        Sums(rows, seed).Select(s => Json(new { prompt = $"{s.A}+{s.B}=", completion = $"{s.A + s.B} #### {s.A + s.B}" }));

    /// <summary>Target-domain exact-match eval: answers are checked with the GSM8K strict pattern.</summary>
    public static IEnumerable<string> ArithmeticExactMatch(int rows, int seed = 4) =>
        Sums(rows, seed).Select(s => Json(new { prompt = $"{s.A}+{s.B}=", answer = (s.A + s.B).ToString(System.Globalization.CultureInfo.InvariantCulture) }));

    /// <summary>Writes the five sample files into <paramref name="directory"/> and returns their paths by name.</summary>
    public static IReadOnlyDictionary<string, string> WriteAll(string directory, int trainRows = 400, int evalRows = 40)
    {
        var files = new Dictionary<string, IEnumerable<string>>
        {
            ["source-text"] = SourceText(trainRows),
            ["source-mc"] = SourceMultipleChoice(evalRows),
            ["arith-train"] = ArithmeticPromptCompletion(trainRows),
            ["arith-valid"] = ArithmeticPromptCompletion(evalRows, seed: 5),
            ["arith-em"] = ArithmeticExactMatch(evalRows),
        };
        return JsonlFiles.WriteAll(directory, files);
    }

    private static IEnumerable<(int A, int B)> Sums(int rows, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < rows; i++) yield return (random.Next(10, 50), random.Next(10, 50));
    }

    private static string Json(object row) => JsonSerializer.Serialize(row);
}
