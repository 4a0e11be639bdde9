using System.Text;
using System.Text.Json;

namespace LoraService.Datasets;

/// <summary>
/// Parses a file that <see cref="JsonlValidator"/> accepted into typed rows, lazily, line by line.
/// Malformed rows throw <see cref="InvalidDataException"/> naming the line: validate first.
/// </summary>
public static class DatasetReader
{
    public static IEnumerable<DatasetExample> Read(Stream stream, DatasetFormat format)
    {
        using var reader = new StreamReader(stream, new UTF8Encoding(false, true), detectEncodingFromByteOrderMarks: true);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            DatasetExample example;
            try
            {
                using var document = JsonDocument.Parse(line);
                example = Parse(document.RootElement, format);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                throw new InvalidDataException($"line {lineNumber}: not a valid {format.ToWireName()} row ({e.Message})", e);
            }
            yield return example;
        }
    }

    public static IEnumerable<T> Read<T>(Stream stream) where T : DatasetExample =>
        Read(stream, FormatOf<T>()).Cast<T>();

    public static IReadOnlyList<T> ReadFile<T>(string path) where T : DatasetExample
    {
        using var stream = File.OpenRead(path);
        return Read<T>(stream).ToList();
    }

    public static DatasetFormat FormatOf<T>() where T : DatasetExample =>
        typeof(T) == typeof(TextExample) ? DatasetFormat.Text
        : typeof(T) == typeof(PromptCompletionExample) ? DatasetFormat.PromptCompletion
        : typeof(T) == typeof(ChatExample) ? DatasetFormat.Messages
        : typeof(T) == typeof(MultipleChoiceExample) ? DatasetFormat.MultipleChoice
        : typeof(T) == typeof(ExactMatchExample) ? DatasetFormat.ExactMatch
        : throw new ArgumentException($"{typeof(T).Name} is not a dataset row type");

    private static DatasetExample Parse(JsonElement row, DatasetFormat format) => format switch
    {
        DatasetFormat.Text => new TextExample(Str(row, "text")),
        DatasetFormat.PromptCompletion => new PromptCompletionExample(Str(row, "prompt"), Str(row, "completion")),
        DatasetFormat.Messages => new ChatExample(row.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatMessage(Str(m, "role"), Str(m, "content"),
                m.TryGetProperty("weight", out var w) ? w.GetInt32() : null))
            .ToList()),
        DatasetFormat.MultipleChoice => new MultipleChoiceExample(Str(row, "context"),
            row.GetProperty("choices").EnumerateArray().Select(c => c.GetString()!).ToList(),
            row.GetProperty("label").GetInt32()),
        DatasetFormat.ExactMatch => new ExactMatchExample(Str(row, "prompt"), Answer(row.GetProperty("answer"))),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private static string Str(JsonElement obj, string name) =>
        obj.GetProperty(name).GetString() ?? throw new FormatException($"{name} is null");

    private static string Answer(JsonElement answer) =>
        answer.ValueKind == JsonValueKind.Number ? answer.GetRawText() : Str2(answer);

    private static string Str2(JsonElement value) => value.GetString() ?? throw new FormatException("answer is null");
}
