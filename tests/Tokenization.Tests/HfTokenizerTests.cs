namespace LoraService.Tokenization.Tests;

public sealed class HfTokenizerTests
{
    [Fact]
    public void Byte_level_tokenizer_round_trips_text_and_recognises_added_tokens()
    {
        using var tokenizer = HfTokenizer.Load(TinyTokenizerFiles.Write());

        Assert.Equal(TinyTokenizerFiles.Bytes("héllo world"), tokenizer.Encode("héllo world"));
        Assert.Equal("héllo world", tokenizer.Decode(tokenizer.Encode("héllo world")));
        Assert.Equal([.. TinyTokenizerFiles.Bytes("a"), 257, .. TinyTokenizerFiles.Bytes("b")], tokenizer.Encode("a<|im_start|>b"));
        Assert.Equal(new SpecialTokens(null, 256, 259), tokenizer.Special);
        Assert.Equal(258, tokenizer.TokenToId("<|im_end|>"));
        Assert.Equal((int)'a', tokenizer.TokenToId("a"));
        Assert.False(tokenizer.AddBos);
        Assert.Empty(tokenizer.Encode(""));
    }

    [Fact]
    public void Post_processor_bos_is_not_inserted_by_encode_but_reported()
    {
        using var tokenizer = HfTokenizer.Load(TinyTokenizerFiles.Write(
            addedTokens: ["<s>", "</s>"], bosPostProcessor: true, bos: "<s>", eos: "</s>", pad: null));

        Assert.True(tokenizer.AddBos);
        Assert.Equal(new SpecialTokens(256, 257, null), tokenizer.Special);
        Assert.Equal(TinyTokenizerFiles.Bytes("hi"), tokenizer.Encode("hi"));
    }

    [Fact]
    public void Special_tokens_written_as_added_token_objects_and_template_lists_are_read()
    {
        var directory = TinyTokenizerFiles.Write();
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), """
            {"add_bos_token": false,
             "eos_token": {"content": "<|im_end|>", "lstrip": false, "special": true},
             "pad_token": null,
             "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "<|im_start|>"}]}
            """);
        using var tokenizer = HfTokenizer.Load(directory);
        Assert.Equal(new SpecialTokens(null, 258, null), tokenizer.Special);
        Assert.Equal(258, tokenizer.Special.PaddingId);
        Assert.Equal("<|im_start|>", tokenizer.ChatTemplate);
    }

    [Fact]
    public void Truncation_and_padding_saved_in_tokenizer_json_do_not_change_what_encode_returns()
    {
        var directory = TinyTokenizerFiles.Write(addedTokens: ["<pad>"], pad: "<pad>");
        var path = Path.Combine(directory, "tokenizer.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        // As published copies carry them: cut at 5 tokens, pad everything to 12.
        json["truncation"] = System.Text.Json.Nodes.JsonNode.Parse("""{"direction": "Right", "max_length": 5, "strategy": "LongestFirst", "stride": 0}""");
        json["padding"] = System.Text.Json.Nodes.JsonNode.Parse("""{"strategy": {"Fixed": 12}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 256, "pad_type_id": 0, "pad_token": "<pad>"}""");
        File.WriteAllText(path, json.ToJsonString());

        using var tokenizer = HfTokenizer.Load(directory);
        Assert.Equal(TinyTokenizerFiles.Bytes("a sentence longer than five tokens"), tokenizer.Encode("a sentence longer than five tokens"));
        Assert.Equal(TinyTokenizerFiles.Bytes("hi"), tokenizer.Encode("hi"));
    }

    [Fact]
    public void Merges_load_in_both_spellings()
    {
        using var strings = HfTokenizer.Load(TinyTokenizerFiles.Write(merges: ["a b"]));
        using var pairs = HfTokenizer.Load(TinyTokenizerFiles.Write(merges: [new System.Text.Json.Nodes.JsonArray("a", "b")]));
        Assert.Equal([300, 'c'], strings.Encode("abc"));
        Assert.Equal([300, 'c'], pairs.Encode("abc"));
        Assert.Equal("abc", pairs.Decode([300, 'c']));
    }

    [Fact]
    public void Missing_tokenizer_json_is_a_clear_error() =>
        Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load(Directory.CreateTempSubdirectory().FullName));

    [Fact]
    public void Reads_the_chat_template_string()
    {
        using var tokenizer = HfTokenizer.Load(TinyTokenizerFiles.Write(chatTemplate: "{% for m in messages %}<|im_start|>{% endfor %}"));
        Assert.Contains("<|im_start|>", tokenizer.ChatTemplate);
    }
}
