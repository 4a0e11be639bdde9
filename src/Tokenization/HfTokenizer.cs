using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> (run by the Rust tokenizers library through Tokenizers.DotNet)
/// plus the special tokens and chat template of <c>tokenizer_config.json</c>.
/// </summary>
/// <remarks>
/// The post-processor is removed before loading so <see cref="Encode"/> never inserts BOS/EOS by
/// itself: the data pipeline adds them explicitly, once per sequence, and can encode chat turns
/// piece by piece. Saved <c>truncation</c> and <c>padding</c> sections (published copies carry them) are dropped too.
/// </remarks>
public sealed class HfTokenizer : ITokenizer, IDisposable
{
    private readonly global::Tokenizers.DotNet.Tokenizer _native;
    private readonly Dictionary<string, int> _tokenIds;

    private HfTokenizer(global::Tokenizers.DotNet.Tokenizer native, Dictionary<string, int> tokenIds,
        SpecialTokens special, bool addBos, string? chatTemplate, IReadOnlyDictionary<string, string> specialTokenTexts)
    {
        _native = native;
        _tokenIds = tokenIds;
        Special = special;
        AddBos = addBos;
        ChatTemplate = chatTemplate;
        SpecialTokenTexts = specialTokenTexts;
    }

    public SpecialTokens Special { get; }
    public bool AddBos { get; }

    /// <summary>The Jinja chat template: chat_template.jinja, else tokenizer_config.json's <c>chat_template</c>; null when neither.</summary>
    public string? ChatTemplate { get; }

    /// <summary>tokenizer_config.json's special tokens as text (<c>bos_token</c>, <c>eos_token</c>, …): chat template variables.</summary>
    public IReadOnlyDictionary<string, string> SpecialTokenTexts { get; }

    public static HfTokenizer Load(string directory)
    {
        var tokenizerPath = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(tokenizerPath))
            throw new FileNotFoundException($"no tokenizer.json in {directory}", tokenizerPath);
        var json = JsonNode.Parse(File.ReadAllText(tokenizerPath))!.AsObject();
        var config = ReadConfig(Path.Combine(directory, "tokenizer_config.json"));

        var tokenIds = TokenIds(json);
        var postProcessorAddsBos = PostProcessorStartsWithSpecialToken(json["post_processor"]);
        json["post_processor"] = null;
        // Saved truncation/padding would cut or pad every text; transformers' tokenizer(text) switches both off, so do we.
        json["truncation"] = null;
        json["padding"] = null;

        var stripped = Path.Combine(Path.GetTempPath(), $"tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(stripped, json.ToJsonString());
        global::Tokenizers.DotNet.Tokenizer native;
        try
        {
            native = new global::Tokenizers.DotNet.Tokenizer(vocabPath: stripped);
        }
        finally
        {
            File.Delete(stripped);
        }

        int? Id(string key) => TokenText(config?[key]) is { } text && tokenIds.TryGetValue(text, out var id) ? id : null;
        var special = new SpecialTokens(Id("bos_token"), Id("eos_token"), Id("pad_token"));
        var addBos = config?["add_bos_token"]?.GetValue<bool>() ?? (postProcessorAddsBos && special.BosId is not null);
        return new HfTokenizer(native, tokenIds, special, addBos, ChatTemplateOf(directory, config), SpecialTokenTextsOf(config));
    }

    public int[] Encode(string text) =>
        text.Length == 0 ? [] : _native.Encode(text).Select(id => checked((int)id)).ToArray();

    public string Decode(IReadOnlyList<int> ids) => _native.Decode(ids.Select(id => checked((uint)id)).ToArray());

    public int? TokenToId(string token) => _tokenIds.TryGetValue(token, out var id) ? id : null;

    public void Dispose() => _native.Dispose();

    /// <summary>The Jinja chat template of a checkpoint folder, without loading the tokenizer.</summary>
    public static string? ReadChatTemplate(string directory) => ChatTemplateOf(directory, ReadConfig(Path.Combine(directory, "tokenizer_config.json")));

    /// <summary>Newer checkpoints save the template as chat_template.jinja, which transformers prefers to the config's.</summary>
    private static string? ChatTemplateOf(string directory, JsonObject? config)
    {
        var file = Path.Combine(directory, "chat_template.jinja");
        return File.Exists(file) ? File.ReadAllText(file) : ConfigChatTemplate(config);
    }

    private static Dictionary<string, string> SpecialTokenTextsOf(JsonObject? config)
    {
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in config ?? [])
            if (key.EndsWith("_token", StringComparison.Ordinal) && TokenText(value) is { } text) texts[key] = text;
        return texts;
    }

    private static string? ConfigChatTemplate(JsonObject? config) => config?["chat_template"] switch
    {
        JsonValue value => value.GetValue<string>(),
        // A list of named templates: use "default".
        JsonArray list => list.OfType<JsonObject>().FirstOrDefault(t => (string?)t["name"] == "default")?["template"]?.GetValue<string>(),
        _ => null,
    };

    private static JsonObject? ReadConfig(string path) =>
        File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))?.AsObject() : null;

    /// <summary>Special tokens are written as a string or as an AddedToken object with "content".</summary>
    private static string? TokenText(JsonNode? node) => node switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonObject obj => obj["content"]?.GetValue<string>(),
        _ => null,
    };

    private static Dictionary<string, int> TokenIds(JsonObject json)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        if (json["model"]?["vocab"] is JsonObject vocab)
            foreach (var (token, id) in vocab)
                ids[token] = id!.GetValue<int>();
        if (json["added_tokens"] is JsonArray added)
            foreach (var token in added.OfType<JsonObject>())
                ids[token["content"]!.GetValue<string>()] = token["id"]!.GetValue<int>();
        return ids;
    }

    private static bool PostProcessorStartsWithSpecialToken(JsonNode? processor)
    {
        if (processor is null) return false;
        if ((string?)processor["type"] == "Sequence" && processor["processors"] is JsonArray steps)
            return steps.Any(PostProcessorStartsWithSpecialToken);
        return (string?)processor["type"] == "TemplateProcessing"
            && processor["single"] is JsonArray { Count: > 0 } single
            && single[0]?["SpecialToken"] is not null;
    }
}
