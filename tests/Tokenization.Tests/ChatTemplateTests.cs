using LoraService.Datasets;

namespace LoraService.Tokenization.Tests;

public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new("system", "Be brief."),
        new("user", "Hi"),
        new("assistant", "Hello"),
        new("user", "Again"),
        new("assistant", "Skip", Weight: 0),
    ];

    private static string Text(IEnumerable<ChatSegment> segments, bool? trained = null) =>
        string.Concat(segments.Where(s => trained is null || s.Trained == trained).Select(s => s.Text ?? $"[{s.TokenId}]"));

    [Fact]
    public void Chatml_renders_like_the_hugging_face_template_and_trains_assistant_content_and_im_end()
    {
        var segments = new ChatMlTemplate().Render(Conversation, new SpecialTokens(null, 0, null), addGenerationPrompt: true);
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n" +
            "<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\nSkip<|im_end|>\n<|im_start|>assistant\n",
            Text(segments));
        Assert.Equal("Hello<|im_end|>", Text(segments, trained: true));
    }

    [Fact]
    public void Llama3_renders_headers_and_eot()
    {
        var segments = new Llama3Template().Render([new("user", " Hi "), new("assistant", "Yo")], new SpecialTokens(1, 2, null));
        Assert.Equal(
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nYo<|eot_id|>",
            Text(segments));
        Assert.Equal("Yo<|eot_id|>", Text(segments, trained: true));
    }

    [Fact]
    public void Plain_ends_assistant_turns_with_the_eos_token()
    {
        var segments = new PlainTemplate().Render([new("user", "Hi"), new("assistant", "Yo")], new SpecialTokens(null, 9, null));
        Assert.Equal("User: Hi\nAssistant: Yo[9]\n", Text(segments));
        Assert.Equal("Yo[9]", Text(segments, trained: true));
    }

    [Theory]
    [InlineData(null, "{% for message in messages %}{{'<|im_start|>' + message['role'] }}{% endfor %}", "model")]
    [InlineData(null, "{% for m in messages %}[INST]{% endfor %}", "model")]
    [InlineData(null, null, "plain")]
    [InlineData("LLAMA3", "<|im_start|>", "llama3")]
    public void Resolve_prefers_a_name_then_the_models_own_template(string? name, string? jinja, string expected) =>
        Assert.Equal(expected, ChatTemplates.Resolve(name, jinja).Name);

    [Theory]
    [InlineData(null, null)]
    [InlineData("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}", "model")]
    [InlineData("{% filter upper %}{{ messages }}{% endfilter %}", "unrecognised")]
    public void Recognise_says_whether_the_engine_parses_the_template(string? jinja, string? expected) =>
        Assert.Equal(expected, ChatTemplates.Recognise(jinja));

    [Fact]
    public void Templates_the_engine_cannot_parse_ask_for_a_name()
    {
        var error = Assert.Throws<UnknownChatTemplateException>(() => ChatTemplates.Resolve(null, "{% filter upper %}x{% endfilter %}"));
        Assert.Contains("unsupported tag 'filter'", error.Message);
        Assert.Contains("choose a chat template by name: chatml, llama3, plain", error.Message);
        var unknownName = Assert.Throws<UnknownChatTemplateException>(() => ChatTemplates.Get("vicuna"));
        Assert.Equal("unknown chat template 'vicuna'; choose one of: chatml, llama3, plain", unknownName.Message);
    }
}
