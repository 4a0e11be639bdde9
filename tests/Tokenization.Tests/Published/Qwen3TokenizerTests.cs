using System.Text.Json;
using LoraService.Datasets;
using LoraService.Tokenization.Examples;

namespace LoraService.Tokenization.Tests.Published;

/// <summary>
/// The loader on a real published vocabulary (Qwen3: 151,643 BPE entries, 26 added tokens, NFC, a split
/// regex pre-tokenizer). Expected ids were computed by an independent implementation, transformers.js
/// (via <c>@lenml/tokenizers</c> 3.7.2), with <c>add_special_tokens: false</c>, as TRL tokenizes.
/// </summary>
public sealed class Qwen3TokenizerTests
{
    private static readonly string GoldenFolder = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates");

    public static TheoryData<string, int[]> ReferenceEncodings() => new()
    {
        { "Hello world", [9707, 1879] },
        {
            "<|im_start|>user\nWhat is 12*7?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n12*7 = 84 #### 84<|im_end|>\n",
            [151644, 872, 198, 3838, 374, 220, 16, 17, 9, 22, 30, 151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271, 16, 17, 9, 22, 284, 220, 23, 19, 26274, 220, 23, 19, 151645, 198]
        },
        {
            "Naïve café — 東京タワー 🚀 costs $1,234.56!\n\n\tTabs  and   spaces",
            [16193, 37572, 586, 51950, 1959, 60596, 109, 46553, 46207, 125980, 11162, 248, 222, 7049, 400, 16, 11, 17, 18, 19, 13, 20, 21, 2219, 10261, 3435, 220, 323, 256, 12621]
        },
        {
            "The tokens <|endoftext|> and <tool_call>{\"name\": \"x\"}</tool_call> appear inside text.",
            [785, 11211, 220, 151643, 323, 220, 151657, 4913, 606, 788, 330, 87, 9207, 151658, 4994, 4766, 1467, 13]
        },
    };

    [Theory]
    [MemberData(nameof(ReferenceEncodings))]
    public void Encodes_like_transformers_including_special_tokens_inside_text(string text, int[] expected)
    {
        using var tokenizer = HfTokenizer.Load(PublishedTokenizer.Qwen3);
        Assert.Equal(expected, tokenizer.Encode(text));
        // Decoding skips special tokens, as transformers' decode(skip_special_tokens=True) does for generations.
        var specials = new[] { "<|im_start|>", "<|im_end|>", "<|endoftext|>" };
        Assert.Equal(specials.Aggregate(text, (t, s) => t.Replace(s, "")), tokenizer.Decode(expected));
    }

    [Fact]
    public void Reads_special_tokens_and_the_chat_template_from_the_published_config()
    {
        using var tokenizer = HfTokenizer.Load(PublishedTokenizer.Qwen3);
        Assert.Equal(new SpecialTokens(BosId: null, EosId: 151645, PadId: 151643), tokenizer.Special);
        Assert.False(tokenizer.AddBos);
        Assert.Equal(151644, tokenizer.TokenToId("<|im_start|>"));
        Assert.Equal(File.ReadAllText(Path.Combine(GoldenFolder, "qwen3-0.6b.jinja")).TrimEnd('\n'), tokenizer.ChatTemplate!.TrimEnd('\n'));
    }

    [Fact]
    public void A_chat_example_trains_on_the_models_own_rendering_tokenized_like_trl()
    {
        using var tokenizer = HfTokenizer.Load(PublishedTokenizer.Qwen3);
        var template = ChatTemplates.Resolve(null, tokenizer.ChatTemplate, tokenizer.SpecialTokenTexts);
        var messages = Conversation("c_multi_turn");

        var example = new ExampleBuilder(tokenizer, new ExampleOptions(1024), template).Chat(new ChatExample(messages));

        var golden = GoldenRendering("qwen3-0.6b/c_multi_turn/gen=false");
        Assert.Equal(tokenizer.Encode(golden), example.InputIds);
        int[] transformersIds =
        [
            151644, 8948, 198, 2610, 525, 264, 11657, 25302, 13, 151645, 198, 151644, 872, 198, 675, 264, 10250, 1372, 13, 151645, 198,
            151644, 77091, 198, 22, 374, 264, 10250, 1372, 13, 151645, 198, 151644, 872, 198, 3036, 458, 1496, 825, 30, 151645, 198,
            151644, 77091, 198, 151667, 271, 151668, 271, 17, 374, 279, 1172, 1496, 10250, 13, 151645, 198,
        ];
        Assert.Equal(transformersIds, example.InputIds);
        // Qwen3 drops <think> from past turns and adds an empty one to the last, so an earlier turn's prefix is
        // not a prefix of the whole: only the last assistant turn is trained, from after its header.
        Assert.Equal(1, Assert.IsType<ModelChatTemplate>(template).LastTurnOnly);
        Assert.Equal([151667, 271, 151668, 271, 17, 374, 279, 1172, 1496, 10250, 13, 151645, 198],
            example.Labels.Where(label => label != TokenizedExample.IgnoreIndex));
    }

    private static ChatMessage[] Conversation(string id)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenFolder, "conversations.json")));
        return document.RootElement.GetProperty(id).EnumerateArray()
            .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))
            .ToArray();
    }

    private static string GoldenRendering(string caseId)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenFolder, "cases.json")));
        return document.RootElement.EnumerateArray()
            .Single(c => c.GetProperty("id").GetString() == caseId).GetProperty("expected").GetString()!;
    }
}
