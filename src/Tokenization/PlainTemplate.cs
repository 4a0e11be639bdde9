using LoraService.Datasets;

namespace LoraService.Tokenization;

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
