using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Tokenization;

/// <summary>
/// A GPT-2-style byte-level BPE <c>tokenizer.json</c> with no merges: token id = byte value,
/// plus <c>&lt;|endoftext|&gt;</c>. Any text round-trips; real tokenizers drop in with the same loader.
/// </summary>
public static class ByteLevelTokenizer
{
    public const int EndOfText = 256;
    public const int MinVocabSize = 257;
    public const string EndOfTextToken = "<|endoftext|>";

    /// <summary>GPT-2's printable stand-in character for each byte (bytes_to_unicode).</summary>
    public static char[] ByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary><c>tokenizer.json</c> and <c>tokenizer_config.json</c>, by file name; the caller writes them.</summary>
    public static IReadOnlyList<(string FileName, string Json)> Files(int modelMaxLength)
    {
        var chars = ByteToChar();
        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++)
            vocab[chars[b].ToString()] = b;
        vocab[EndOfTextToken] = EndOfText;
        JsonObject ByteLevel(bool addPrefixSpace, bool trimOffsets) => new()
        {
            ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = trimOffsets, ["use_regex"] = true,
        };
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = EndOfText, ["content"] = EndOfTextToken, ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = ByteLevel(false, true),
            ["post_processor"] = ByteLevel(false, false),
            ["decoder"] = ByteLevel(false, true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false,
                ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
        var options = new JsonSerializerOptions { WriteIndented = true };
        var config = new JsonObject
        {
            ["add_bos_token"] = false,
            ["add_prefix_space"] = false,
            ["bos_token"] = EndOfTextToken,
            ["eos_token"] = EndOfTextToken,
            ["pad_token"] = EndOfTextToken,
            ["unk_token"] = EndOfTextToken,
            ["clean_up_tokenization_spaces"] = false,
            ["model_max_length"] = modelMaxLength,
            ["tokenizer_class"] = "GPT2Tokenizer",
        };
        return [("tokenizer.json", tokenizer.ToJsonString(options)), ("tokenizer_config.json", config.ToJsonString(options))];
    }
}
