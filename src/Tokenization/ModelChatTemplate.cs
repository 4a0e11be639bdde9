using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Jinja;

namespace LoraService.Tokenization;

/// <summary>
/// The model's own Jinja chat template, rendered as transformers' <c>apply_chat_template(tokenize=False)</c> does.
/// Trained text: the template's <c>{% generation %}</c> blocks when it has them; otherwise each assistant turn, found
/// by rendering the conversation up to it. Templates that rewrite earlier turns (Qwen3 and DeepSeek-R1 drop past
/// <c>&lt;think&gt;</c> blocks) break that search: then only the last assistant turn is trained, and
/// <see cref="LastTurnOnly"/> counts such conversations.
/// </summary>
public sealed class ModelChatTemplate(Template template, IReadOnlyDictionary<string, string> specialTokens) : ChatTemplate
{
    private int _lastTurnOnly;

    public override string Name => ChatTemplateNames.Model;

    public override bool RendersBos => true;

    /// <summary>Conversations rendered so far in which only the last assistant turn could be trained.</summary>
    public int LastTurnOnly => _lastTurnOnly;

    public override IReadOnlyList<ChatSegment> Render(
        IReadOnlyList<ChatMessage> messages, SpecialTokens special, bool addGenerationPrompt = false)
    {
        var full = RenderText(messages, addGenerationPrompt);
        var trained = template.HasGenerationBlocks ? GenerationRanges(messages, full) : TurnRanges(messages, full.Text);
        return Segments(full.Text, trained);
    }

    private RenderResult RenderText(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var variables = new Dictionary<string, object?>();
        foreach (var (name, text) in specialTokens) variables[name] = text;
        variables["messages"] = messages.Select(m => new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList();
        variables["add_generation_prompt"] = addGenerationPrompt;
        try
        {
            return template.RenderWithSpans(variables);
        }
        catch (TemplateException e)
        {
            throw new InvalidDataException($"the model's chat template cannot render this conversation: {e.Message}", e);
        }
    }

    /// <summary>The generation spans; when there is one per assistant message, those of weight 0 are left out.</summary>
    private static List<(int Start, int End)> GenerationRanges(IReadOnlyList<ChatMessage> messages, RenderResult full)
    {
        var assistants = messages.Where(m => m.Role == "assistant").ToList();
        return full.GenerationSpans
            .Where((_, i) => assistants.Count != full.GenerationSpans.Count || IsTrained(assistants[i]))
            .Select(s => (s.Start, s.End)).ToList();
    }

    private List<(int Start, int End)> TurnRanges(IReadOnlyList<ChatMessage> messages, string full)
    {
        var ranges = new List<(int, int)>();
        var assistantTurns = Enumerable.Range(0, messages.Count).Where(k => messages[k].Role == "assistant").ToList();
        foreach (var k in assistantTurns)
        {
            if (TurnRange(messages, k, full) is not { } range)
            {
                Interlocked.Increment(ref _lastTurnOnly);
                return LastTurnRange(messages, assistantTurns[^1], full);
            }
            if (IsTrained(messages[k])) ranges.Add(range);
        }
        return ranges;
    }

    private List<(int Start, int End)> LastTurnRange(IReadOnlyList<ChatMessage> messages, int last, string full)
    {
        var range = TurnRange(messages, last, full, toTheEnd: last == messages.Count - 1)
            ?? throw new UnknownChatTemplateException(
                "the model's chat template renders conversations so that the assistant's turns cannot be located; " +
                $"choose a chat template by name: {string.Join(", ", ChatTemplateNames.Known)}");
        return IsTrained(messages[last]) ? [range] : [];
    }

    /// <summary>
    /// Where assistant message <paramref name="k"/> lies in <paramref name="full"/>: after the conversation before it
    /// and as much of the generation prompt as the full rendering shares, up to the end of the conversation through it.
    /// Null when either rendering is not a prefix of the full one.
    /// </summary>
    private (int Start, int End)? TurnRange(IReadOnlyList<ChatMessage> messages, int k, string full, bool toTheEnd = false)
    {
        try
        {
            var before = RenderText(messages.Take(k).ToList(), addGenerationPrompt: false).Text;
            if (!full.StartsWith(before, StringComparison.Ordinal)) return null;
            var prompt = RenderText(messages.Take(k).ToList(), addGenerationPrompt: true).Text;
            var start = Math.Max(before.Length, CommonPrefixLength(prompt, full));
            var end = toTheEnd ? full.Length : RenderText(messages.Take(k + 1).ToList(), addGenerationPrompt: false).Text is var through
                && full.StartsWith(through, StringComparison.Ordinal) ? through.Length : -1;
            return end >= start ? (start, end) : null;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static int CommonPrefixLength(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    private static List<ChatSegment> Segments(string text, List<(int Start, int End)> trained)
    {
        var segments = new List<ChatSegment>();
        var at = 0;
        foreach (var (start, end) in trained.OrderBy(r => r.Start))
        {
            if (start < at) continue;
            if (start > at) segments.Add(ChatSegment.Of(text[at..start]));
            if (end > start) segments.Add(ChatSegment.Of(text[start..end], trained: true));
            at = end;
        }
        if (at < text.Length) segments.Add(ChatSegment.Of(text[at..]));
        return segments;
    }
}
