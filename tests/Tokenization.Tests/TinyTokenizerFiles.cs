using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Tokenization.Tests;

/// <summary>
/// Writes a byte-level BPE tokenizer.json (256 byte symbols, no merges, so id = byte value) and a
/// tokenizer_config.json, in the Hugging Face layout, for tests.
/// </summary>
public static class TinyTokenizerFiles
{
    public static readonly string[] DefaultAddedTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"];

    /// <param name="merges">Optional BPE merges, written as given ("a b" strings or ["a", "b"] pairs); each merged
    /// token gets id 300, 301, … in order.</param>
    public static string Write(string? chatTemplate = null, string[]? addedTokens = null, bool bosPostProcessor = false,
        string eos = "<|endoftext|>", string? pad = "<pad>", string? bos = null, JsonArray? merges = null)
    {
        var directory = Directory.CreateTempSubdirectory("tiny-tokenizer-").FullName;
        var vocab = new JsonObject();
        var byteToChar = ByteToUnicode();
        for (var b = 0; b < 256; b++) vocab[byteToChar[b].ToString()] = b;
        var mergedId = 300;
        foreach (var merge in merges ?? [])
        {
            var pair = merge is JsonArray array ? array.Select(n => n!.GetValue<string>()).ToArray() : merge!.GetValue<string>().Split(' ');
            vocab[pair[0] + pair[1]] = mergedId++;
        }
        var added = new JsonArray();
        var id = 256;
        foreach (var token in addedTokens ?? DefaultAddedTokens)
            added.Add(new JsonObject
            {
                ["id"] = id++, ["content"] = token, ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        JsonNode? post = bosPostProcessor && bos is not null
            ? JsonNode.Parse(
                "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"BOS\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]," +
                "\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}]," +
                "\"special_tokens\":{\"BOS\":{\"id\":\"BOS\",\"ids\":[ID],\"tokens\":[\"BOS\"]}}}"
                    .Replace("BOS", bos).Replace("ID", TokenIndex(addedTokens ?? DefaultAddedTokens, bos).ToString()))
            : null;
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = post,
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false,
                ["vocab"] = vocab, ["merges"] = merges ?? new JsonArray(),
            },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString());
        var config = new JsonObject { ["eos_token"] = eos, ["pad_token"] = pad, ["bos_token"] = bos };
        if (chatTemplate is not null) config["chat_template"] = chatTemplate;
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString());
        return directory;
    }

    private static int TokenIndex(string[] tokens, string token) => 256 + Array.IndexOf(tokens, token);

    /// <summary>GPT-2's reversible map from bytes to printable characters.</summary>
    private static char[] ByteToUnicode()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1)
            .Concat(Enumerable.Range('¡', '¬' - '¡' + 1))
            .Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
            map[b] = printable.Contains(b) ? (char)b : (char)next++;
        return map;
    }

    public static int[] Bytes(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
}
