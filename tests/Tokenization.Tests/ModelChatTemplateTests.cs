using LoraService.Datasets;
using LoraService.Tokenization.Examples;

namespace LoraService.Tokenization.Tests;

public sealed class ModelChatTemplateTests
{
    private const string ChatMl =
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

    private static readonly SpecialTokens NoIds = new(null, null, null);

    private static ModelChatTemplate Model(string jinja, Dictionary<string, string>? special = null) =>
        Assert.IsType<ModelChatTemplate>(ChatTemplates.Resolve(null, jinja, special));

    private static string[] Trained(IEnumerable<ChatSegment> segments) => segments.Where(s => s.Trained).Select(s => s.Text!).ToArray();

    [Fact]
    public void Without_generation_blocks_each_assistant_turn_is_found_by_rendering_the_conversation_up_to_it()
    {
        var template = Model(ChatMl);
        var segments = template.Render(
            [new("system", "Be brief."), new("user", "Hi"), new("assistant", "Hello"), new("user", "Again"), new("assistant", "Skip", Weight: 0),
             new("user", "Last"), new("assistant", "Bye")],
            NoIds);
        Assert.Equal(["Hello<|im_end|>\n", "Bye<|im_end|>\n"], Trained(segments));
        Assert.StartsWith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi", string.Concat(segments.Select(s => s.Text)));
        Assert.Equal(0, template.LastTurnOnly);
    }

    [Fact]
    public void Generation_blocks_mark_the_trained_text_when_the_template_has_them()
    {
        var template = Model(
            "{% for m in messages %}{% if m.role == 'assistant' %}<a>{% generation %}{{ m.content }}</s>{% endgeneration %}" +
            "{% else %}<u>{{ m.content }}{% endif %}{% endfor %}");
        var segments = template.Render([new("user", "q"), new("assistant", "a1"), new("user", "q2"), new("assistant", "a2", Weight: 0)], NoIds);
        Assert.Equal(["a1</s>"], Trained(segments));
        Assert.Equal("<u>q<a>a1</s><u>q2<a>a2</s>", string.Concat(segments.Select(s => s.Text)));
    }

    [Fact]
    public void A_template_that_rewrites_earlier_turns_trains_the_last_assistant_turn_only_and_counts_it()
    {
        var template = Model(
            "{% for m in messages %}{% if m.role == 'assistant' %}{% set c = m.content %}" +
            "{% if not loop.last and '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}<|im_start|>assistant\n{{ c }}<|im_end|>\n" +
            "{% else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}" +
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
        var segments = template.Render(
            [new("user", "q1"), new("assistant", "<think>r1</think>a1"), new("user", "q2"), new("assistant", "<think>r2</think>a2")], NoIds);
        Assert.Equal(["<think>r2</think>a2<|im_end|>\n"], Trained(segments));
        Assert.Equal(1, template.LastTurnOnly);
    }

    [Fact]
    public void A_generation_prompt_longer_than_the_rendered_turn_header_starts_the_turn_where_they_differ()
    {
        var template = Model(
            "{% for m in messages %}{% if m.role == 'user' %}<U>{{ m.content }}{% else %}<A>{{ m.content.split('</think>')[-1] }}</s>{% endif %}" +
            "{% endfor %}{% if add_generation_prompt %}<A><think>\n{% endif %}");
        Assert.Equal(["a</s>"], Trained(template.Render([new("user", "q"), new("assistant", "<think>r</think>a")], NoIds)));
    }

    [Fact]
    public void Errors_the_template_raises_name_the_conversation_problem()
    {
        var template = Model("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}");
        var error = Assert.Throws<InvalidDataException>(() => template.Render([new("system", "s"), new("user", "u")], NoIds));
        Assert.Contains("System role not supported", error.Message);
    }

    [Fact]
    public void The_template_prints_bos_so_the_example_builder_does_not_add_a_second()
    {
        var directory = TinyTokenizerFiles.Write(chatTemplate: "{{ bos_token }}" + ChatMl, bos: "<|endoftext|>", bosPostProcessor: true);
        using var tokenizer = HfTokenizer.Load(directory);
        Assert.True(tokenizer.AddBos);
        Assert.Equal("<|endoftext|>", tokenizer.SpecialTokenTexts["bos_token"]);
        var template = ChatTemplates.Resolve(null, tokenizer.ChatTemplate, tokenizer.SpecialTokenTexts);
        var example = new ExampleBuilder(tokenizer, new ExampleOptions(256), template).Chat(new ChatExample([new("user", "hi"), new("assistant", "yo")]));
        Assert.Equal(256, example.InputIds[0]);
        Assert.NotEqual(256, example.InputIds[1]);
        Assert.Equal(tokenizer.Encode("yo<|im_end|>\n"), example.Labels.Where(label => label != TokenizedExample.IgnoreIndex));
    }

    [Fact]
    public void A_chat_template_jinja_file_is_read_before_the_config()
    {
        var directory = TinyTokenizerFiles.Write(chatTemplate: "from the config");
        File.WriteAllText(Path.Combine(directory, "chat_template.jinja"), ChatMl);
        Assert.Equal(ChatMl, HfTokenizer.ReadChatTemplate(directory));
    }
}
