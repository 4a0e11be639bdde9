using System.Collections;
using System.Text.Json;

namespace LoraService.Jinja.Runtime;

/// <summary>
/// Python semantics over the runtime's value model: null (None), bool, long, double, string,
/// List (list), object?[] (tuple), Dictionary&lt;string, object?&gt; (dict), plus the runtime's own types.
/// </summary>
internal static class Values
{
    public static bool Truthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        Dictionary<string, object?> => "dict",
        Namespace => "Namespace",
        LoopContext => "LoopContext",
        Callable => "function",
        _ => value.GetType().Name,
    };

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) == ToDouble(b) : ToLong(a) == ToLong(b);
        return (a, b) switch
        {
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => SequenceEquals(x, y),
            (object?[] x, object?[] y) => SequenceEquals(x, y),
            (Dictionary<string, object?> x, Dictionary<string, object?> y) =>
                x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var v) && Equals(kv.Value, v)),
            _ => ReferenceEquals(a, b),
        };
    }

    private static bool SequenceEquals(IReadOnlyList<object?> x, IReadOnlyList<object?> y) =>
        x.Count == y.Count && x.Zip(y).All(p => Equals(p.First, p.Second));

    /// <summary>Python ordering for numbers, strings and sequences; anything else is a TypeError.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        if (a is string x && b is string y) return string.CompareOrdinal(x, y);
        if (a is IReadOnlyList<object?> l && b is IReadOnlyList<object?> r && a.GetType() == b.GetType())
        {
            for (var i = 0; i < Math.Min(l.Count, r.Count); i++)
                if (!Equals(l[i], r[i])) return Compare(l[i], r[i], op);
            return l.Count.CompareTo(r.Count);
        }
        if (a is Undefined u) throw u.Fail();
        if (b is Undefined v) throw v.Fail();
        throw new RuntimeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new RuntimeError($"expected an integer, got '{TypeName(value)}'"),
    };

    public static double ToDouble(object? value) => value switch
    {
        double d => d,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new RuntimeError($"expected a number, got '{TypeName(value)}'"),
    };

    /// <summary>The items a for loop or a filter iterates: a dict yields its keys, a string its characters.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        Undefined => [],
        List<object?> list => list,
        object?[] tuple => [.. tuple],
        Dictionary<string, object?> dict => [.. dict.Keys],
        string s => [.. StringElements(s)],
        _ => throw new RuntimeError($"'{TypeName(value)}' object is not iterable"),
    };

    /// <summary>Python strings index by code point, so surrogate pairs stay together.</summary>
    public static IEnumerable<object?> StringElements(string s)
    {
        for (var i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1)
            yield return char.IsSurrogatePair(s, i) ? s.Substring(i, 2) : s[i].ToString();
    }

    public static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new RuntimeError($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        Dictionary<string, object?> d => item is string key && d.ContainsKey(key),
        Undefined => false,
        _ => Iterate(container).Any(x => Equals(x, item)),
    };

    /// <summary>Converts host values (JSON documents, .NET collections and numbers) into the runtime's model.</summary>
    public static object? Import(object? value) => value switch
    {
        null or string or bool or long or double or Undefined or Namespace or Callable => value,
        int i => (long)i,
        short or byte or uint => Convert.ToInt64(value),
        float f => (double)f,
        decimal m => (double)m,
        JsonElement e => FromJson(e),
        IDictionary dict => Dictionary(dict),
        IEnumerable sequence => sequence.Cast<object?>().Select(Import).ToList(),
        _ => value,
    };

    private static Dictionary<string, object?> Dictionary(IDictionary dict)
    {
        var result = new Dictionary<string, object?>();
        foreach (DictionaryEntry entry in dict) result[entry.Key.ToString()!] = Import(entry.Value);
        return result;
    }

    private static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value)),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
