namespace LoraService.Jinja.Runtime;

/// <summary>
/// <c>x.name</c> and <c>x[key]</c> as Jinja2 resolves them: attribute first then item for <c>.</c>, item first then
/// attribute for <c>[]</c>; a missing one is undefined, and any access on an undefined value fails.
/// </summary>
internal static class Access
{
    public static object? Attribute(object? target, string name) => target switch
    {
        Undefined u => throw u.Fail(),
        string s => PyString.Method(s, name),
        Dictionary<string, object?> d => DictMethods.Method(d, name) ?? Key(d, name),
        Namespace ns => ns.Attributes.TryGetValue(name, out var v) ? v : new Undefined($"'Namespace' object has no attribute '{name}'"),
        LoopContext loop => loop.Attribute(name),
        _ => new Undefined($"'{Values.TypeName(target)} object' has no attribute '{name}'"),
    };

    public static object? Item(object? target, object? key)
    {
        switch (target)
        {
            case Undefined u: throw u.Fail();
            case Dictionary<string, object?> d:
                if (key is string k) return d.TryGetValue(k, out var v) ? v : Missing(target, key);
                return Missing(target, key);
            case IReadOnlyList<object?> list when key is long or bool:
                var i = Values.ToLong(key);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : Missing(target, key);
            case string s when key is long or bool:
                var chars = Values.StringElements(s).ToList();
                var j = Values.ToLong(key);
                if (j < 0) j += chars.Count;
                return j >= 0 && j < chars.Count ? chars[(int)j] : Missing(target, key);
        }
        return key is string name ? Attribute(target, name) : Missing(target, key);
    }

    private static object? Key(Dictionary<string, object?> d, string name) =>
        d.TryGetValue(name, out var v) ? v : new Undefined($"'dict object' has no attribute '{name}'");

    private static Undefined Missing(object? target, object? key) =>
        new($"'{Values.TypeName(target)} object' has no attribute {PyRepr.Repr(key)}");

    /// <summary>Python slicing of lists, tuples and strings, negative steps included.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        if (target is Undefined u) throw u.Fail();
        var items = target switch
        {
            string s => Values.StringElements(s).ToList(),
            IReadOnlyList<object?> list => list,
            _ => throw new RuntimeError($"'{Values.TypeName(target)}' object is not subscriptable"),
        };
        var n = items.Count;
        var by = step is null ? 1 : Values.ToLong(step);
        if (by == 0) throw new RuntimeError("slice step cannot be zero");
        long Bound(object? value, long fallback, long low, long high)
        {
            if (value is null) return fallback;
            var i = Values.ToLong(value);
            if (i < 0) i += n;
            return Math.Clamp(i, low, high);
        }
        var result = new List<object?>();
        if (by > 0)
            for (var i = Bound(start, 0, 0, n); i < Bound(stop, n, 0, n); i += by) result.Add(items[(int)i]);
        else
            for (var i = Bound(start, n - 1, -1, n - 1); i > Bound(stop, -1, -1, n - 1); i += by) result.Add(items[(int)i]);
        return target switch
        {
            string => string.Concat(result.Cast<string>()),
            object?[] => result.ToArray(),
            _ => result,
        };
    }
}
