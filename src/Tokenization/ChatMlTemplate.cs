using LoraService.Datasets;

namespace LoraService.Tokenization;

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
