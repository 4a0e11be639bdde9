using System.Text.Json;
using System.Text.RegularExpressions;
using LoraService.Datasets.Samples;

namespace LoraService.Datasets.Tests;

public sealed class StudyCorporaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-study-corpora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private IReadOnlyDictionary<string, string> Write(string folder, int seed = 11) =>
        StudyCorpora.WriteAll(Path.Combine(_dir, folder), people: 6, sourceRows: 60, targetRows: 40, evalRows: 12, seed);

    [Theory]
    [InlineData("source-train", DatasetFormat.Text, 60)]
    [InlineData("source-heldout", DatasetFormat.Text, 18)]
    [InlineData("source-mc", DatasetFormat.MultipleChoice, 18)]
    [InlineData("target-train", DatasetFormat.PromptCompletion, 40)]
    [InlineData("target-heldout", DatasetFormat.Text, 12)]
    [InlineData("target-em", DatasetFormat.ExactMatch, 12)]
    public async Task Every_file_passes_the_upload_validator_as_its_format(string name, DatasetFormat format, int rows)
    {
        await using var file = File.OpenRead(Write("a")[name]);
        var result = await JsonlValidator.ValidateAsync(file);
        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.Equal(format, result.Format);
        Assert.Equal(rows, File.ReadAllLines(Write("b")[name]).Length);
    }

    [Fact]
    public void The_same_seed_gives_the_same_bytes_and_another_seed_another_world()
    {
        var first = Write("first");
        var again = Write("again");
        var other = Write("other", seed: 12);
        foreach (var name in first.Keys)
        {
            Assert.Equal(File.ReadAllBytes(first[name]), File.ReadAllBytes(again[name]));
            Assert.NotEqual(File.ReadAllBytes(first[name]), File.ReadAllBytes(other[name]));
        }
    }

    [Fact]
    public void Each_question_asks_a_fact_of_the_world_with_four_distinct_choices_and_the_true_one_labelled()
    {
        var world = StudyCorpora.World(6, 11).ToDictionary(p => p.Name);
        var questions = File.ReadAllLines(Write("mc")["source-mc"]).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(18, questions.Count);
        foreach (var q in questions)
        {
            var context = q.GetProperty("context").GetString()!;
            var choices = q.GetProperty("choices").EnumerateArray().Select(c => c.GetString()!).ToList();
            Assert.Equal(4, choices.Distinct().Count());
            var person = world[context.Split(' ')[0]];
            var truth = context.EndsWith("lives in") ? person.Town : context.EndsWith("colour") ? person.Colour : person.Pet;
            Assert.Equal(truth + ".", choices[q.GetProperty("label").GetInt32()]);
        }
        // The training text states the facts; the held-out text states them in a phrasing the training text never uses.
        var train = File.ReadAllLines(Write("t")["source-train"]).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()!).ToList();
        Assert.Contains(train, t => t.EndsWith(" lives in " + world.Values.First().Town + ".") && t.StartsWith(world.Values.First().Name));
        Assert.DoesNotContain(train, t => t.StartsWith("The home town of"));
    }

    [Fact]
    public void Word_problem_answers_are_the_arithmetic_of_their_prompt()
    {
        var problems = File.ReadAllLines(Write("em")["target-em"]).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var completions = File.ReadAllLines(Write("tr")["target-train"]).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        foreach (var (prompt, answer) in problems.Select(p => (p.GetProperty("prompt").GetString()!, p.GetProperty("answer").GetString()!))
            .Concat(completions.Select(c => (c.GetProperty("prompt").GetString()!, Regex.Match(c.GetProperty("completion").GetString()!, "#### (-?\\d+)$").Groups[1].Value))))
        {
            var numbers = Regex.Matches(prompt, "\\d+").Select(m => int.Parse(m.Value)).ToArray();
            var expected = prompt.Contains("gets") ? numbers[0] + numbers[1] : numbers[0] - numbers[1];
            Assert.Equal(expected.ToString(), answer);
        }
    }
}
