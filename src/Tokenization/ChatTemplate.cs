using LoraService.Datasets;

namespace LoraService.Tokenization;

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

    /// <summary>The rendering starts with the BOS token when the model wants one (model templates print bos_token), so none is added.</summary>
    public virtual bool RendersBos => false;

    public abstract IReadOnlyList<ChatSegment> Render(
        IReadOnlyList<ChatMessage> messages, SpecialTokens special, bool addGenerationPrompt = false);

    protected static bool IsTrained(ChatMessage message) => message.Role == "assistant" && message.Weight != 0;
}
