using System.Text;

namespace LoraService.Datasets.Tests;

public sealed class DatasetReaderTests
{
    private static MemoryStream Jsonl(params string[] lines) => new(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));

    [Fact]
    public void Reads_text_and_prompt_completion()
    {
        Assert.Equal([new TextExample("a"), new TextExample("b")],
            DatasetReader.Read<TextExample>(Jsonl("{\"text\":\"a\"}", "{\"text\":\"b\",\"extra\":1}")).ToList());
        Assert.Equal([new PromptCompletionExample("p", "c")],
            DatasetReader.Read<PromptCompletionExample>(Jsonl("{\"prompt\":\"p\",\"completion\":\"c\"}")).ToList());
    }

    [Fact]
    public void Reads_chat_with_weights()
    {
        var chat = DatasetReader.Read<ChatExample>(Jsonl(
            "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u\"},{\"role\":\"assistant\",\"content\":\"a\",\"weight\":0}]}"))
            .Single();
        Assert.Equal([new ChatMessage("system", "s"), new ChatMessage("user", "u"), new ChatMessage("assistant", "a", 0)], chat.Messages);
    }

    [Fact]
    public void Reads_multiple_choice_and_exact_match()
    {
        var mc = DatasetReader.Read<MultipleChoiceExample>(Jsonl("{\"context\":\"c\",\"choices\":[\"x\",\"y\",\"z\"],\"label\":2}")).Single();
        Assert.Equal("c", mc.Context);
        Assert.Equal(["x", "y", "z"], mc.Choices);
        Assert.Equal(2, mc.Label);

        var em = DatasetReader.Read<ExactMatchExample>(Jsonl("{\"prompt\":\"p\",\"answer\":72}", "{\"prompt\":\"q\",\"answer\":\"1,000\"}")).ToList();
        Assert.Equal([new ExactMatchExample("p", "72"), new ExactMatchExample("q", "1,000")], em);
    }

    [Fact]
    public void Malformed_row_names_its_line()
    {
        var error = Assert.Throws<InvalidDataException>(() =>
            DatasetReader.Read<TextExample>(Jsonl("{\"text\":\"a\"}", "{\"nope\":1}")).ToList());
        Assert.StartsWith("line 2: not a valid text row", error.Message);
    }
}
