using LoraService.Datasets;

namespace LoraService.Tokenization;

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
