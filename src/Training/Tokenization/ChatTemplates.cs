namespace LoraService.Training.Tokenization;

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
