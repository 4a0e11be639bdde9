using System.Text.Json;
using System.Text.Json.Serialization;
using LoraService.Training.Checkpoints;

namespace LoraService.Training.Pipeline;

/// <summary>One line of <c>metrics.jsonl</c>.</summary>
public sealed record MetricRecord(
    [property: JsonPropertyName("step")] int Step,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("value")] double Value);

/// <summary>
/// Every metric a run produced, appended to <c>metrics.jsonl</c> in the work directory as it happens, so a resumed
/// run can still export the whole history (baseline included). On resume, lines after the checkpoint's step are
/// dropped: those steps will run again.
/// </summary>
public sealed class MetricsJournal : IDisposable
{
    public const string FileName = "metrics.jsonl";
    private static readonly JsonSerializerOptions Options = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private readonly List<MetricRecord> _records;
    private readonly StreamWriter _writer;

    private MetricsJournal(string path, List<MetricRecord> records)
    {
        _records = records;
        AtomicFile.WriteAllText(path, string.Concat(records.Select(r => Line(r) + "\n")));
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    /// <summary>Opens the journal, keeping only lines at or before <paramref name="keepThroughStep"/> (null = start empty).</summary>
    public static MetricsJournal Open(string workDirectory, int? keepThroughStep)
    {
        var path = Path.Combine(workDirectory, FileName);
        var records = keepThroughStep is { } step && File.Exists(path)
            ? Read(path).Where(r => r.Step <= step).ToList()
            : [];
        return new MetricsJournal(path, records);
    }

    public static IEnumerable<MetricRecord> Read(string path) =>
        File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l))
            .Select(l => JsonSerializer.Deserialize<MetricRecord>(l, Options)!);

    public IReadOnlyList<MetricRecord> Records => _records;

    public void Append(int step, IEnumerable<(string Name, double Value)> metrics)
    {
        foreach (var (name, value) in metrics)
        {
            var record = new MetricRecord(step, name, value);
            _records.Add(record);
            _writer.Write(Line(record));
            _writer.Write('\n');
        }
        _writer.Flush();
    }

    /// <summary>The records, one per (step, name) (the last written wins), ordered by step then first appearance.</summary>
    public IReadOnlyList<MetricRecord> Deduplicated()
    {
        var last = new Dictionary<(int, string), MetricRecord>();
        var order = new List<(int, string)>();
        foreach (var r in _records)
        {
            if (!last.ContainsKey((r.Step, r.Name))) order.Add((r.Step, r.Name));
            last[(r.Step, r.Name)] = r;
        }
        return order.Select(k => last[k]).OrderBy(r => r.Step).ToList();
    }

    public static string Line(MetricRecord record) => JsonSerializer.Serialize(record, Options);

    public void Dispose() => _writer.Dispose();
}
