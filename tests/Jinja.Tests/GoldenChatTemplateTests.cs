using System.Text.Json;

namespace LoraService.Jinja.Tests;

/// <summary>Every golden case renders byte-identically to Python Jinja2, and every expected error is raised.</summary>
public sealed class GoldenChatTemplateTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates");
    private static readonly JsonElement Conversations = Load("conversations.json");
    private static readonly JsonElement Cases = Load("cases.json");
    private static readonly DateTime FixedNow = new(2026, 7, 26);

    private static JsonElement Load(string file) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, file))).RootElement;

    public static TheoryData<string> CaseIds() => new(Cases.EnumerateArray().Select(c => c.GetProperty("id").GetString()!));

    [Fact]
    public void The_corpus_has_all_its_cases() => Assert.Equal(98, Cases.GetArrayLength());

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Renders_like_python_jinja2(string id)
    {
        var golden = Cases.EnumerateArray().Single(c => c.GetProperty("id").GetString() == id);
        var template = Template.Parse(
            File.ReadAllText(Path.Combine(Folder, golden.GetProperty("template").GetString()!)),
            TemplateOptions.ChatTemplate with { Now = () => FixedNow });
        var variables = Variables(golden);

        if (golden.GetProperty("error").GetString() is { } error)
        {
            var raised = Assert.Throws<TemplateRaisedException>(() => template.Render(variables));
            Assert.Equal(error, raised.Reason);
            return;
        }
        Assert.Equal(golden.GetProperty("expected").GetString(), template.Render(variables));
    }

    private static Dictionary<string, object?> Variables(JsonElement golden)
    {
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = Conversations.GetProperty(golden.GetProperty("messages_id").GetString()!),
            ["add_generation_prompt"] = golden.GetProperty("add_generation_prompt").GetBoolean(),
        };
        foreach (var token in new[] { "bos_token", "eos_token" })
            if (golden.GetProperty(token).GetString() is { } value) variables[token] = value;
        foreach (var extra in golden.GetProperty("extra").EnumerateObject()) variables[extra.Name] = extra.Value;
        return variables;
    }
}
