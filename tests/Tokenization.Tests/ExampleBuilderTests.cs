using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using static LoraService.Tokenization.Tests.TinyTokenizerFiles;

namespace LoraService.Tokenization.Tests;

public sealed class ExampleBuilderTests : IDisposable
{
    private const int Eos = 256, ImStart = 257, ImEnd = 258;
    private readonly HfTokenizer _tokenizer = HfTokenizer.Load(Write());

    public void Dispose() => _tokenizer.Dispose();

    private static int[] Ignored(int count) => Enumerable.Repeat(-100, count).ToArray();

    [Fact]
    public void Prompt_completion_masks_the_prompt_and_appends_eos()
    {
        var example = new ExampleBuilder(_tokenizer, new ExampleOptions(64)).PromptCompletion(new("ab", "cd"));
        Assert.Equal([.. Bytes("abcd"), Eos], example.InputIds);
        Assert.Equal([.. Ignored(2), .. Bytes("cd"), Eos], example.Labels);
    }

    [Fact]
    public void Train_on_inputs_scores_the_prompt_too()
    {
        var example = new ExampleBuilder(_tokenizer, new ExampleOptions(64, TrainOnInputs: true)).PromptCompletion(new("ab", "cd"));
        Assert.Equal(example.InputIds, example.Labels);
    }

    [Fact]
    public void Truncates_to_the_max_sequence_length()
    {
        var example = new ExampleBuilder(_tokenizer, new ExampleOptions(3)).PromptCompletion(new("ab", "cd"));
        Assert.Equal(Bytes("abc"), example.InputIds);
        Assert.Equal([.. Ignored(2), (int)'c'], example.Labels);
    }

    [Fact]
    public void Bos_is_prepended_and_unscored_when_the_tokenizer_adds_it()
    {
        using var llamaLike = HfTokenizer.Load(Write(addedTokens: ["<s>", "</s>"], bosPostProcessor: true, bos: "<s>", eos: "</s>", pad: null));
        var example = new ExampleBuilder(llamaLike, new ExampleOptions(64)).PromptCompletion(new("a", "b"));
        Assert.Equal([256, 'a', 'b', 257], example.InputIds);
        Assert.Equal([-100, -100, 'b', 257], example.Labels);
    }

    [Fact]
    public void Chat_scores_only_trained_assistant_turns_and_their_end_token()
    {
        var builder = new ExampleBuilder(_tokenizer, new ExampleOptions(256), new ChatMlTemplate());
        var example = builder.Chat(new ChatExample([new("user", "hi"), new("assistant", "yo"), new("user", "x"), new("assistant", "no", 0)]));

        int[] expectedIds =
        [
            ImStart, .. Bytes("user\nhi"), ImEnd, '\n',
            ImStart, .. Bytes("assistant\nyo"), ImEnd, '\n',
            ImStart, .. Bytes("user\nx"), ImEnd, '\n',
            ImStart, .. Bytes("assistant\nno"), ImEnd, '\n',
        ];
        Assert.Equal(expectedIds, example.InputIds);
        var scored = example.InputIds.Zip(example.Labels).Where(p => p.Second != -100).Select(p => p.First).ToArray();
        Assert.Equal([.. Bytes("yo"), ImEnd], scored);
        Assert.All(example.InputIds.Zip(example.Labels).Where(p => p.Second != -100), p => Assert.Equal(p.First, p.Second));
    }

    [Fact]
    public void Packing_concatenates_documents_with_eos_into_fixed_blocks()
    {
        var blocks = new ExampleBuilder(_tokenizer, new ExampleOptions(4)).PackText([new("abc"), new("defg"), new("h")]);
        // stream: a b c EOS d e f g EOS h EOS → [abcE] [defg] [EhE]
        Assert.Equal(3, blocks.Count);
        Assert.Equal([.. Bytes("abc"), Eos], blocks[0].InputIds);
        Assert.Equal(Bytes("defg"), blocks[1].InputIds);
        Assert.Equal([Eos, 'h', Eos], blocks[2].InputIds);
        Assert.All(blocks, b => Assert.Equal(b.InputIds, b.Labels));
    }

    [Fact]
    public void Build_rejects_evaluation_formats_for_training()
    {
        var builder = new ExampleBuilder(_tokenizer, new ExampleOptions(16));
        Assert.Throws<ArgumentException>(() => builder.Build([new MultipleChoiceExample("c", ["a", "b"], 0)]));
        Assert.Single(builder.Build([new PromptCompletionExample("a", "b")]));
    }

    [Fact]
    public void Build_drops_rows_truncated_to_no_scored_token()
    {
        var builder = new ExampleBuilder(_tokenizer, new ExampleOptions(4));
        var built = builder.Build([new PromptCompletionExample("abcdef", "g"), new PromptCompletionExample("a", "b")]);
        Assert.Equal([.. Bytes("ab"), Eos], Assert.Single(built).InputIds);
    }
}
