using LoraService.Contracts.Jobs;

namespace LoraService.Tokenization;

public sealed class UnknownChatTemplateException(string message) : Exception(message);

public static class ChatTemplates
{
    public static ChatTemplate Get(string name) => name.ToLowerInvariant() switch
    {
        ChatTemplateNames.ChatMl => new ChatMlTemplate(),
        ChatTemplateNames.Llama3 => new Llama3Template(),
        ChatTemplateNames.Plain => new PlainTemplate(),
        _ => throw new UnknownChatTemplateException(
            $"unknown chat template '{name}'; choose one of: {string.Join(", ", ChatTemplateNames.Known)}"),
    };

    /// <summary>
    /// The name of the template recognised in a tokenizer's Jinja <c>chat_template</c> by its distinctive markers;
    /// null when there is none; <see cref="ChatTemplateNames.Unrecognised"/> otherwise. Jinja is never executed.
    /// </summary>
    public static string? Recognise(string? tokenizerChatTemplate)
    {
        if (string.IsNullOrWhiteSpace(tokenizerChatTemplate)) return null;
        if (tokenizerChatTemplate.Contains("<|im_start|>", StringComparison.Ordinal)) return ChatTemplateNames.ChatMl;
        if (tokenizerChatTemplate.Contains("<|start_header_id|>", StringComparison.Ordinal)) return ChatTemplateNames.Llama3;
        return ChatTemplateNames.Unrecognised;
    }

    /// <summary>The template to use: the one named explicitly, else the tokenizer's recognised one, else <c>plain</c> when it has none.</summary>
    public static ChatTemplate Resolve(string? name, string? tokenizerChatTemplate)
    {
        if (!string.IsNullOrWhiteSpace(name)) return Get(name);
        return Recognise(tokenizerChatTemplate) switch
        {
            null => new PlainTemplate(),
            ChatTemplateNames.Unrecognised => throw new UnknownChatTemplateException(
                "the tokenizer's chat_template is not one this service recognises (it cannot run Jinja templates); " +
                $"choose a chat template by name: {string.Join(", ", ChatTemplateNames.Known)}"),
            var known => Get(known),
        };
    }
}
