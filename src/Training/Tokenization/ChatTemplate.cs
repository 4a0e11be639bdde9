using LoraService.Datasets;

namespace LoraService.Training.Tokenization;

/// <summary>A piece of a rendered conversation: text, or one token id; <see cref="Trained"/> marks loss-bearing pieces.</summary>
public sealed record ChatSegment(string? Text, int? TokenId, bool Trained)
{
    public static ChatSegment Of(string text, bool trained = false) => new(text, null, trained);
    public static ChatSegment Token(int id, bool trained = false) => new(null, id, trained);
}

/// <summary>
/// A conversation format. Only assistant turns are trained: their content and the end-of-turn
/// token, unless the message has weight 0.
/// </summary>
public abstract class ChatTemplate
{
    public abstract string Name { get; }

    public abstract IReadOnlyList<ChatSegment> Render(
        IReadOnlyList<ChatMessage> messages, SpecialTokens special, bool addGenerationPrompt = false);

    protected static bool IsTrained(ChatMessage message) => message.Role == "assistant" && message.Weight != 0;
}

/// <summary>ChatML (Qwen, SmolLM2-Instruct): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>.</summary>
public sealed class ChatMlTemplate : ChatTemplate
{
    public override string Name => "chatml";

    public override IReadOnlyList<ChatSegment> Render(IReadOnlyList<ChatMessage> messages, SpecialTokens special, bool addGenerationPrompt = false)
    {
        var segments = new List<ChatSegment>();
        foreach (var message in messages)
        {
            var trained = IsTrained(message);
            segments.Add(ChatSegment.Of($"<|im_start|>{message.Role}\n"));
            segments.Add(ChatSegment.Of(message.Content + "<|im_end|>", trained));
            segments.Add(ChatSegment.Of("\n"));
        }
        if (addGenerationPrompt) segments.Add(ChatSegment.Of("<|im_start|>assistant\n"));
        return segments;
    }
}

/// <summary>
/// Llama 3 instruct: <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>,
/// content trimmed as the official template does. BOS comes from the tokenizer (see <see cref="ITokenizer.AddBos"/>).
/// </summary>
public sealed class Llama3Template : ChatTemplate
{
    public override string Name => "llama3";

    public override IReadOnlyList<ChatSegment> Render(IReadOnlyList<ChatMessage> messages, SpecialTokens special, bool addGenerationPrompt = false)
    {
        var segments = new List<ChatSegment>();
        foreach (var message in messages)
        {
            segments.Add(ChatSegment.Of($"<|start_header_id|>{message.Role}<|end_header_id|>\n\n"));
            segments.Add(ChatSegment.Of(message.Content.Trim() + "<|eot_id|>", IsTrained(message)));
        }
        if (addGenerationPrompt) segments.Add(ChatSegment.Of("<|start_header_id|>assistant<|end_header_id|>\n\n"));
        return segments;
    }
}

/// <summary>
/// For base models without a chat format: <c>System: …\n</c>, <c>User: …\n</c>, <c>Assistant: …&lt;eos&gt;\n</c>;
/// the tokenizer's EOS ends each assistant turn.
/// </summary>
public sealed class PlainTemplate : ChatTemplate
{
    public override string Name => "plain";

    public override IReadOnlyList<ChatSegment> Render(IReadOnlyList<ChatMessage> messages, SpecialTokens special, bool addGenerationPrompt = false)
    {
        var eos = special.EosId ?? throw new InvalidOperationException("the plain chat template needs a tokenizer with an eos_token");
        var segments = new List<ChatSegment>();
        foreach (var message in messages)
        {
            var trained = IsTrained(message);
            segments.Add(ChatSegment.Of(message.Role switch { "system" => "System: ", "user" => "User: ", _ => "Assistant: " }));
            segments.Add(ChatSegment.Of(message.Content, trained));
            if (message.Role == "assistant") segments.Add(ChatSegment.Token(eos, trained));
            segments.Add(ChatSegment.Of("\n"));
        }
        if (addGenerationPrompt) segments.Add(ChatSegment.Of("Assistant: "));
        return segments;
    }
}

public sealed class UnknownChatTemplateException(string message) : Exception(message);

public static class ChatTemplates
{
    public static readonly IReadOnlyList<string> Names = ["chatml", "llama3", "plain"];

    public static ChatTemplate Get(string name) => name.ToLowerInvariant() switch
    {
        "chatml" => new ChatMlTemplate(),
        "llama3" => new Llama3Template(),
        "plain" => new PlainTemplate(),
        _ => throw new UnknownChatTemplateException(
            $"unknown chat template '{name}'; choose one of: {string.Join(", ", Names)}"),
    };

    /// <summary>
    /// The template to use: the one named explicitly, else the one recognised in the tokenizer's
    /// Jinja <c>chat_template</c> by its distinctive markers, else <c>plain</c> when the tokenizer has none.
    /// Jinja is never executed: an unrecognised template is an error asking for a name.
    /// </summary>
    public static ChatTemplate Resolve(string? name, string? tokenizerChatTemplate)
    {
        if (!string.IsNullOrWhiteSpace(name)) return Get(name);
        if (string.IsNullOrWhiteSpace(tokenizerChatTemplate)) return new PlainTemplate();
        if (tokenizerChatTemplate.Contains("<|im_start|>", StringComparison.Ordinal)) return new ChatMlTemplate();
        if (tokenizerChatTemplate.Contains("<|start_header_id|>", StringComparison.Ordinal)) return new Llama3Template();
        throw new UnknownChatTemplateException(
            "the tokenizer's chat_template is not one this service recognises (it cannot run Jinja templates); " +
            $"choose a chat template by name: {string.Join(", ", Names)}");
    }
}
