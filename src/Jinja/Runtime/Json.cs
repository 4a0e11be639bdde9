using System.Text;

namespace LoraService.Jinja.Runtime;

/// <summary>
/// transformers' <c>tojson</c>: Python <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
/// sort_keys=sort_keys)</c> — no HTML escaping, non-ASCII kept, keys in insertion order.
/// </summary>
internal static class Json
{
    public static string Dumps(object? value, int? indent, string? itemSeparator = null, string? keySeparator = null, bool sortKeys = false)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSeparator ?? (indent is null ? ", " : ","), keySeparator ?? ": ", sortKeys, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value, int? indent, string itemSep, string keySep, bool sortKeys, int level)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(PyRepr.Repr(l)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyRepr.Float(d));
                break;
            case string s: String(sb, s); break;
            case Undefined u: throw new RuntimeError($"Object of type Undefined is not JSON serializable ({u.Reason})");
            case Dictionary<string, object?> dict:
                var pairs = sortKeys ? dict.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList() : dict.ToList();
                Container(sb, '{', '}', pairs.Count, indent, itemSep, level, i =>
                {
                    String(sb, pairs[i].Key);
                    sb.Append(keySep);
                    Write(sb, pairs[i].Value, indent, itemSep, keySep, sortKeys, level + 1);
                });
                break;
            case IReadOnlyList<object?> list:
                Container(sb, '[', ']', list.Count, indent, itemSep, level,
                    i => Write(sb, list[i], indent, itemSep, keySep, sortKeys, level + 1));
                break;
            default: throw new RuntimeError($"Object of type {Values.TypeName(value)} is not JSON serializable");
        }
    }

    private static void Container(StringBuilder sb, char open, char close, int count, int? indent, string itemSep, int level, Action<int> item)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }
        var inner = indent is { } n ? "\n" + new string(' ', n * (level + 1)) : "";
        for (var i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(itemSep);
            sb.Append(inner);
            item(i);
        }
        if (indent is { } m) sb.Append('\n').Append(' ', m * level);
        sb.Append(close);
    }

    private static void String(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
