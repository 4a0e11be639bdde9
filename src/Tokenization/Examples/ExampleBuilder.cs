using LoraService.Datasets;

namespace LoraService.Tokenization.Examples;

/// <param name="MaxSequenceLength">Block length for packed text; truncation length for everything else.</param>
/// <param name="TrainOnInputs">Score prompt and user tokens too, not only completions / assistant turns.</param>
public sealed record ExampleOptions(int MaxSequenceLength = 1024, bool TrainOnInputs = false);

/// <summary>Turns dataset rows into token ids and labels.</summary>
public sealed class ExampleBuilder(ITokenizer tokenizer, ExampleOptions options, ChatTemplate? chatTemplate = null)
{
    private const int Ignore = TokenizedExample.IgnoreIndex;

    /// <summary>
    /// Continued pre-training: each document becomes [bos] text eos, documents are concatenated and
    /// cut into blocks of <see cref="ExampleOptions.MaxSequenceLength"/> tokens, every token scored.
    /// The last, shorter block is kept (padding covers it) unless it has fewer than 2 tokens.
    /// </summary>
    public IReadOnlyList<TokenizedExample> PackText(IEnumerable<TextExample> documents)
    {
        var blockSize = options.MaxSequenceLength;
        var blocks = new List<TokenizedExample>();
        var current = new List<int>(blockSize);
        foreach (var document in documents)
        {
            var ids = new List<int>();
            if (tokenizer.AddBos && tokenizer.Special.BosId is { } bos) ids.Add(bos);
            ids.AddRange(tokenizer.Encode(document.Text));
            if (tokenizer.Special.EosId is { } eos) ids.Add(eos);
            foreach (var id in ids)
            {
                current.Add(id);
                if (current.Count == blockSize)
                {
                    blocks.Add(Scored(current.ToArray()));
                    current.Clear();
                }
            }
        }
        if (current.Count >= 2) blocks.Add(Scored(current.ToArray()));
        return blocks;
    }

    /// <summary>[bos] prompt completion eos; prompt tokens unscored unless TrainOnInputs; truncated on the right.</summary>
    public TokenizedExample PromptCompletion(PromptCompletionExample example)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        if (tokenizer.AddBos && tokenizer.Special.BosId is { } bos) Add(ids, labels, [bos], false);
        Add(ids, labels, tokenizer.Encode(example.Prompt), options.TrainOnInputs);
        Add(ids, labels, tokenizer.Encode(example.Completion), true);
        if (tokenizer.Special.EosId is { } eos) Add(ids, labels, [eos], true);
        return Truncate(ids, labels);
    }

    /// <summary>A conversation rendered by the chat template, scored on trained segments (all, with TrainOnInputs).</summary>
    public TokenizedExample Chat(ChatExample example)
    {
        var template = chatTemplate ?? throw new InvalidOperationException("chat examples need a chat template");
        var ids = new List<int>();
        var labels = new List<int>();
        if (!template.RendersBos && tokenizer.AddBos && tokenizer.Special.BosId is { } bos) Add(ids, labels, [bos], false);
        foreach (var segment in template.Render(example.Messages, tokenizer.Special))
        {
            var tokens = segment.TokenId is { } id ? [id] : tokenizer.Encode(segment.Text ?? "");
            Add(ids, labels, tokens, segment.Trained || options.TrainOnInputs);
        }
        return Truncate(ids, labels);
    }

    /// <summary>
    /// Packs text rows, or builds one example per row for the supervised formats. Rows left with no
    /// scored token (e.g. a prompt longer than the maximum length) are dropped: they would only cost time.
    /// </summary>
    public IReadOnlyList<TokenizedExample> Build(IEnumerable<DatasetExample> rows)
    {
        var list = rows.ToList();
        if (list.All(r => r is TextExample)) return PackText(list.Cast<TextExample>());
        return list.Select(row => row switch
        {
            PromptCompletionExample pc => PromptCompletion(pc),
            ChatExample chat => Chat(chat),
            _ => throw new ArgumentException($"{row.GetType().Name} rows are for evaluation, not training"),
        }).Where(HasScoredToken).ToList();
    }

    /// <summary>Position 0 is never predicted, so a scored label must sit after it.</summary>
    public static bool HasScoredToken(TokenizedExample example) => ScoredTokens(example) > 0;

    /// <summary>The labels the loss scores: those after position 0 that are not ignored.</summary>
    public static int ScoredTokens(TokenizedExample example) => example.Labels.Skip(1).Count(label => label != Ignore);

    private static TokenizedExample Scored(int[] ids) => new(ids, (int[])ids.Clone());

    private static void Add(List<int> ids, List<int> labels, IReadOnlyList<int> tokens, bool scored)
    {
        ids.AddRange(tokens);
        labels.AddRange(scored ? tokens : Enumerable.Repeat(Ignore, tokens.Count));
    }

    private TokenizedExample Truncate(List<int> ids, List<int> labels)
    {
        var n = Math.Min(ids.Count, options.MaxSequenceLength);
        return new TokenizedExample(ids.Take(n).ToArray(), labels.Take(n).ToArray());
    }
}
