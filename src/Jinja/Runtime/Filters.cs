namespace LoraService.Jinja.Runtime;

/// <summary>The filters chat templates use. <c>select</c>-style filters get tests through <see cref="Tests"/>.</summary>
internal static class Filters
{
    public static object? Apply(string name, object? value, CallArgs args) => name switch
    {
        "trim" => PyString.Strip(Text(value), args.Get(0, "chars") as string),
        "tojson" => ToJson(value, args),
        "length" or "count" => Length(value),
        "join" => Join(value, args),
        "upper" => Text(value).ToUpperInvariant(),
        "lower" => Text(value).ToLowerInvariant(),
        "capitalize" => PyString.Capitalize(Text(value)),
        "title" => PyString.Title(Text(value)),
        "replace" => PyString.Replace(Text(value), PyRepr.Str(args.Get(0, "old")), PyRepr.Str(args.Get(1, "new")), args.Get(2, "count")),
        "items" => value switch
        {
            Undefined => new List<object?>(),
            Dictionary<string, object?> d => DictMethods.Items(d),
            _ => throw new RuntimeError($"can only get item pairs from a mapping, not {Values.TypeName(value)}"),
        },
        "first" => Values.Iterate(value) is { Count: > 0 } f ? f[0] : new Undefined("No first item, sequence was empty."),
        "last" => Values.Iterate(value) is { Count: > 0 } l ? l[^1] : new Undefined("No last item, sequence was empty."),
        "default" or "d" => value is Undefined || (Values.Truthy(args.Get(1, "boolean", false)) && !Values.Truthy(value))
            ? args.Get(0, "default_value", "")
            : value,
        "string" => PyRepr.Str(value),
        "safe" => value,
        "int" => ToInt(value, args.Get(0, "default", 0L)),
        "float" => ToFloat(value, args.Get(0, "default", 0.0)),
        "abs" => value is double d ? Math.Abs(d) : (object)Math.Abs(Values.ToLong(value)),
        "list" => value is string s ? Values.StringElements(s).ToList() : new List<object?>(Values.Iterate(value)),
        "reverse" => value is string r ? string.Concat(Values.StringElements(r).Reverse()) : Enumerable.Reverse(Values.Iterate(value)).ToList(),
        "unique" => Unique(Values.Iterate(value)),
        "map" => Map(value, args),
        "select" => Select(value, args, keep: true),
        "reject" => Select(value, args, keep: false),
        "selectattr" => SelectAttribute(value, args, keep: true),
        "rejectattr" => SelectAttribute(value, args, keep: false),
        "indent" => Indent(Text(value), args),
        _ => throw new RuntimeError($"no filter named '{name}'"),
    };

    private static string Text(object? value) => value is Undefined ? "" : PyRepr.Str(value);

    private static long Length(object? value) => value switch
    {
        string s => Values.StringElements(s).Count(),
        Undefined => 0,
        System.Collections.ICollection c => c.Count,
        _ => throw new RuntimeError($"object of type '{Values.TypeName(value)}' has no len()"),
    };

    private static string ToJson(object? value, CallArgs args)
    {
        var indent = args.Get(0, "indent") is { } i ? (int?)Values.ToLong(i) : null;
        string? itemSeparator = null, keySeparator = null;
        if (args.Get(-1, "separators") is object?[] { Length: 2 } separators)
        {
            itemSeparator = separators[0] as string;
            keySeparator = separators[1] as string;
        }
        return Json.Dumps(value, indent, itemSeparator, keySeparator, Values.Truthy(args.Get(-1, "sort_keys", false)));
    }

    private static string Join(object? value, CallArgs args)
    {
        var items = Values.Iterate(value);
        var attribute = args.Get(1, "attribute") as string;
        return string.Join(PyRepr.Str(args.Get(0, "d", "")),
            items.Select(item => PyRepr.Str(attribute is null ? item : Access.Attribute(item, attribute))));
    }

    private static object? ToInt(object? value, object? fallback) => value switch
    {
        long or bool => Values.ToLong(value),
        double d => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim(), out var l) => l,
        string s when double.TryParse(s.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var d) => (long)Math.Truncate(d),
        _ => fallback,
    };

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long or bool or double => Values.ToDouble(value),
        string s when double.TryParse(s.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var d) => d,
        _ => fallback,
    };

    private static List<object?> Unique(List<object?> items)
    {
        var result = new List<object?>();
        foreach (var item in items)
            if (!result.Any(r => Values.Equals(r, item))) result.Add(item);
        return result;
    }

    private static List<object?> Map(object? value, CallArgs args)
    {
        var items = Values.Iterate(value);
        if (args.Get(-1, "attribute") is string attribute)
        {
            var fallback = args.Get(-1, "default");
            return items.Select(item => Access.Attribute(item, attribute) is Undefined && args.Has(-1, "default") ? fallback : Access.Attribute(item, attribute))
                .ToList();
        }
        if (args.Get(0, "filter") is not string filter) throw new RuntimeError("map needs a filter name or attribute=");
        var rest = new CallArgs(args.Positional.Skip(1).ToList(), args.Named);
        return items.Select(item => Apply(filter, item, rest)).ToList();
    }

    private static List<object?> Select(object? value, CallArgs args, bool keep)
    {
        var items = Values.Iterate(value);
        if (args.Positional.Count == 0) return items.Where(item => Values.Truthy(item) == keep).ToList();
        var test = args.Positional[0] as string ?? throw new RuntimeError("select/reject need a test name");
        var rest = new CallArgs(args.Positional.Skip(1).ToList(), args.Named);
        return items.Where(item => Tests.Apply(test, item, rest) == keep).ToList();
    }

    private static List<object?> SelectAttribute(object? value, CallArgs args, bool keep)
    {
        var items = Values.Iterate(value);
        var attribute = args.Get(0, "attribute") as string ?? throw new RuntimeError("selectattr/rejectattr need an attribute name");
        if (args.Positional.Count < 2) return items.Where(item => Values.Truthy(Access.Attribute(item, attribute)) == keep).ToList();
        var test = args.Positional[1] as string ?? throw new RuntimeError("selectattr/rejectattr need a test name");
        var rest = new CallArgs(args.Positional.Skip(2).ToList(), args.Named);
        return items.Where(item => Tests.Apply(test, Access.Attribute(item, attribute), rest) == keep).ToList();
    }

    private static string Indent(string text, CallArgs args)
    {
        var width = args.Get(0, "width", 4L) is string w ? w : new string(' ', (int)Values.ToLong(args.Get(0, "width", 4L)));
        var first = Values.Truthy(args.Get(1, "first", false));
        var blank = Values.Truthy(args.Get(2, "blank", false));
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
            if ((i > 0 || first) && (blank || lines[i].Length > 0)) lines[i] = width + lines[i];
        return string.Join('\n', lines);
    }
}
