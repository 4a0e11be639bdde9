using LoraService.Datasets;

namespace LoraService.Tokenization.Examples;

/// <summary>Reads dataset files and turns rows into training / loss-evaluation examples.</summary>
/// <remarks>
/// <c>onRow</c> is called for every row read or built (the engine counts each as progress); a cancel is checked before each row.
/// </remarks>
public static class ExamplePreparation
{
    /// <summary>The rows of a JSONL file, at most <paramref name="limit"/> (0 = all), in file order.</summary>
    public static List<DatasetExample> ReadRows(string path, DatasetFormat format, int limit = 0, Action? onRow = null,
        CancellationToken cancellationToken = default)
    {
        using var stream = File.OpenRead(path);
        var rows = DatasetReader.Read(stream, format).Select(row => Progress(row, onRow, cancellationToken));
        return (limit > 0 ? rows.Take(limit) : rows).ToList();
    }

    /// <summary>Validates a JSONL file and returns its format; throws <see cref="InvalidDataException"/> with the first errors.</summary>
    public static DatasetFormat DetectFormat(string path)
    {
        using var validator = new JsonlValidator(new DatasetValidationOptions(MaxErrors: 5));
        using (var stream = File.OpenRead(path))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = stream.Read(buffer)) > 0)
                validator.Append(buffer.AsSpan(0, read));
        }
        var result = validator.Complete();
        if (!result.IsValid || result.Format is not { } format)
            throw new InvalidDataException($"{path}: {result.TotalErrorCount} invalid line(s): {string.Join("; ", result.Errors)}");
        return format;
    }

    /// <summary>
    /// Text rows are packed into blocks of <paramref name="maxSequenceLength"/>; prompt_completion and messages rows
    /// become one example each, cut to the maximum length, and are dropped when nothing is left to score.
    /// </summary>
    public static PreparedExamples Build(IReadOnlyList<DatasetExample> rows, ITokenizer tokenizer, ChatTemplate? template,
        int maxSequenceLength, bool trainOnInputs, Action? onRow = null, CancellationToken cancellationToken = default)
    {
        if (rows.Count > 0 && rows.All(r => r is TextExample))
        {
            var packer = new ExampleBuilder(tokenizer, new ExampleOptions(maxSequenceLength, trainOnInputs), template);
            return new PreparedExamples(packer.PackText(rows.Cast<TextExample>().Select(row => Progress(row, onRow, cancellationToken))), rows.Count, 0, 0);
        }
        var builder = new ExampleBuilder(tokenizer, new ExampleOptions(int.MaxValue, trainOnInputs), template);
        var examples = new List<TokenizedExample>();
        int truncated = 0, dropped = 0;
        foreach (var row in rows)
        {
            Progress(row, onRow, cancellationToken);
            var example = row switch
            {
                PromptCompletionExample pc => builder.PromptCompletion(pc),
                ChatExample chat => builder.Chat(chat),
                _ => throw new ArgumentException($"{row.GetType().Name} rows cannot be trained on or scored for loss"),
            };
            if (example.Length > maxSequenceLength)
            {
                truncated++;
                example = new TokenizedExample(example.InputIds[..maxSequenceLength], example.Labels[..maxSequenceLength]);
            }
            if (ExampleBuilder.HasScoredToken(example)) examples.Add(example);
            else dropped++;
        }
        return new PreparedExamples(examples, rows.Count, truncated, dropped);
    }

    private static T Progress<T>(T row, Action? onRow, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        onRow?.Invoke();
        return row;
    }
}
