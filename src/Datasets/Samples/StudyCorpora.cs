using System.Globalization;
using System.Text.Json;

namespace LoraService.Datasets.Samples;

/// <summary>
/// The forgetting study's data, generated from a seed (same seed, same bytes). Source domain: a small world of invented
/// people, each with a home town, a favourite colour and a pet, written as short English-like sentences in three
/// phrasings; its held-out text states the same facts in a fourth phrasing never trained on, and its multiple-choice set
/// asks each fact with four choices. Target domain: one-step arithmetic word problems answered GSM8K-style
/// (<c>12 + 7 = 19 #### 19</c>), with a held-out text set and an exact-match set.
/// </summary>
public static class StudyCorpora
{
    private static readonly string[] Onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u"];
    private static readonly string[] Towns = ["Arden", "Brill", "Corra", "Dunmo", "Elsby", "Fenn", "Galt", "Hollin"];
    private static readonly string[] Colours = ["red", "blue", "green", "gold", "grey", "white"];
    private static readonly string[] Pets = ["cat", "dog", "owl", "fox", "hen", "eel"];
    private static readonly string[] Buyers = ["Ann", "Ben", "Cy", "Dee", "Eli", "Flo", "Gus", "Ivy"];
    private static readonly string[] Goods = ["apples", "pens", "cards", "shells", "coins", "books"];

    public sealed record Person(string Name, string Town, string Colour, string Pet);

    /// <summary>A fact as the multiple-choice set asks it: the trained phrasing's stem, the answer and the attribute's options.</summary>
    private sealed record Fact(Person Who, string Stem, string Answer, string[] Options, string HeldOut, string[] Phrasings);

    public static IReadOnlyList<Person> World(int people, int seed)
    {
        var random = new Random(seed);
        var names = new HashSet<string>();
        var world = new List<Person>();
        while (world.Count < people)
        {
            var name = string.Concat(Enumerable.Range(0, 2).Select(_ => Onsets[random.Next(Onsets.Length)] + Vowels[random.Next(Vowels.Length)]));
            name = char.ToUpperInvariant(name[0]) + name[1..];
            if (!names.Add(name)) continue;
            world.Add(new Person(name, Towns[random.Next(Towns.Length)], Colours[random.Next(Colours.Length)], Pets[random.Next(Pets.Length)]));
        }
        return world;
    }

    private static IEnumerable<Fact> Facts(IReadOnlyList<Person> world) => world.SelectMany(p => new[]
    {
        new Fact(p, $"{p.Name} lives in", p.Town + ".", Towns, $"The home town of {p.Name} is {p.Town}.",
            [$"{p.Name} lives in {p.Town}.", $"{p.Name} has a house in {p.Town}.", $"In {p.Town} lives {p.Name}."]),
        new Fact(p, $"{p.Name} likes the colour", p.Colour + ".", Colours, $"The best colour for {p.Name} is {p.Colour}.",
            [$"{p.Name} likes the colour {p.Colour}.", $"{p.Name} loves all things {p.Colour}.", $"{p.Colour} is the colour {p.Name} likes."]),
        new Fact(p, $"{p.Name} keeps a", p.Pet + ".", Pets, $"The pet of {p.Name} is a {p.Pet}.",
            [$"{p.Name} keeps a {p.Pet}.", $"{p.Name} feeds a {p.Pet} each day.", $"A {p.Pet} lives with {p.Name}."]),
    });

    /// <summary>Source training text: random facts in the three trained phrasings, one sentence a row.</summary>
    public static IEnumerable<string> SourceText(IReadOnlyList<Person> world, int rows, int seed)
    {
        var facts = Facts(world).ToList();
        var random = new Random(seed);
        for (var i = 0; i < rows; i++)
        {
            var fact = facts[random.Next(facts.Count)];
            yield return Json(new { text = fact.Phrasings[random.Next(fact.Phrasings.Length)] });
        }
    }

    /// <summary>Held-out source text: every fact once, in the phrasing never trained on.</summary>
    public static IEnumerable<string> SourceHeldOut(IReadOnlyList<Person> world) => Facts(world).Select(f => Json(new { text = f.HeldOut }));

    /// <summary>Every fact as a four-way multiple-choice question (the right value and three others of the attribute).</summary>
    public static IEnumerable<string> SourceMultipleChoice(IReadOnlyList<Person> world, int seed)
    {
        var random = new Random(seed);
        foreach (var fact in Facts(world))
        {
            var wrong = fact.Options.Where(o => o + "." != fact.Answer).OrderBy(_ => random.Next()).Take(3).Select(o => o + ".");
            var choices = wrong.Append(fact.Answer).OrderBy(_ => random.Next()).ToArray();
            yield return Json(new { context = fact.Stem, choices, label = Array.IndexOf(choices, fact.Answer) });
        }
    }

    /// <summary>Word problems: "Ann has 12 pens and gets 7 more. How many pens now?" → " 12 + 7 = 19 #### 19" (and "gives away").</summary>
    private static IEnumerable<(string Prompt, int Answer, string Working)> Problems(int rows, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < rows; i++)
        {
            var who = Buyers[random.Next(Buyers.Length)];
            var what = Goods[random.Next(Goods.Length)];
            var a = random.Next(10, 50);
            var b = random.Next(1, 10);
            if (random.Next(2) == 0)
                yield return ($"{who} has {a} {what} and gets {b} more. How many {what} now?", a + b, $"{a} + {b} = {a + b}");
            else
                yield return ($"{who} has {a} {what} and gives away {b}. How many {what} now?", a - b, $"{a} - {b} = {a - b}");
        }
    }

    public static IEnumerable<string> TargetTrain(int rows, int seed) =>
        Problems(rows, seed).Select(p => Json(new { prompt = p.Prompt, completion = $" {p.Working} #### {Number(p.Answer)}" }));

    public static IEnumerable<string> TargetHeldOut(int rows, int seed) =>
        Problems(rows, seed).Select(p => Json(new { text = $"{p.Prompt} {p.Working} #### {Number(p.Answer)}" }));

    public static IEnumerable<string> TargetExactMatch(int rows, int seed) =>
        Problems(rows, seed).Select(p => Json(new { prompt = p.Prompt, answer = Number(p.Answer) }));

    /// <summary>Writes the six files (source-train, source-heldout, source-mc, target-train, target-heldout, target-em); paths by name.</summary>
    public static IReadOnlyDictionary<string, string> WriteAll(string directory, int people, int sourceRows, int targetRows, int evalRows, int seed)
    {
        var world = World(people, seed);
        var files = new Dictionary<string, IEnumerable<string>>
        {
            ["source-train"] = SourceText(world, sourceRows, seed + 1),
            ["source-heldout"] = SourceHeldOut(world),
            ["source-mc"] = SourceMultipleChoice(world, seed + 2),
            ["target-train"] = TargetTrain(targetRows, seed + 3),
            ["target-heldout"] = TargetHeldOut(evalRows, seed + 4),
            ["target-em"] = TargetExactMatch(evalRows, seed + 5),
        };
        return JsonlFiles.WriteAll(directory, files);
    }

    private static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Json(object row) => JsonSerializer.Serialize(row);
}
