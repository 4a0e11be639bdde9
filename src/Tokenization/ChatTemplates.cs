using LoraService.Contracts.Jobs;
using LoraService.Jinja;

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
    /// What a tokenizer's Jinja chat template means to the service: null when there is none,
    /// <see cref="ChatTemplateNames.Model"/> when the engine parses it (it is then executed),
    /// <see cref="ChatTemplateNames.Unrecognised"/> when it uses syntax the engine does not support.
    /// </summary>
    public static string? Recognise(string? tokenizerChatTemplate)
    {
        if (string.IsNullOrWhiteSpace(tokenizerChatTemplate)) return null;
        return Parse(tokenizerChatTemplate) is null ? ChatTemplateNames.Unrecognised : ChatTemplateNames.Model;
    }

    /// <summary>
    /// The template to use: the one named explicitly, else the model's own Jinja template, else <c>plain</c> when it has none.
    /// <paramref name="specialTokens"/> are the tokenizer config's special tokens as text (bos_token, eos_token, …).
    /// </summary>
    public static ChatTemplate Resolve(string? name, string? tokenizerChatTemplate, IReadOnlyDictionary<string, string>? specialTokens = null)
    {
        if (!string.IsNullOrWhiteSpace(name)) return Get(name);
        if (string.IsNullOrWhiteSpace(tokenizerChatTemplate)) return new PlainTemplate();
        try
        {
            return new ModelChatTemplate(Template.Parse(tokenizerChatTemplate), specialTokens ?? new Dictionary<string, string>());
        }
        catch (TemplateSyntaxException e)
        {
            throw new UnknownChatTemplateException(
                $"the tokenizer's chat_template uses Jinja this service cannot run ({e.Message}); " +
                $"choose a chat template by name: {string.Join(", ", ChatTemplateNames.Known)}");
        }
    }

    private static Template? Parse(string source)
    {
        try
        {
            return Template.Parse(source);
        }
        catch (TemplateSyntaxException)
        {
            return null;
        }
    }
}
