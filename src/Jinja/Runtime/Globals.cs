namespace LoraService.Jinja.Runtime;

/// <summary>Functions every template sees: Jinja2's <c>namespace</c>, <c>range</c>, <c>dict</c>, and transformers' <c>raise_exception</c>, <c>strftime_now</c>.</summary>
internal static class Globals
{
    public static void AddTo(Scope scope, TemplateOptions options)
    {
        scope.Set("raise_exception", new Callable(args => throw new RaisedError(PyRepr.Str(args.Get(0, "message")))));
        scope.Set("strftime_now", new Callable(args => Strftime.Format(options.Now(), PyRepr.Str(args.Get(0, "format")))));
        scope.Set("namespace", new Callable(Namespace));
        scope.Set("range", new Callable(Range));
        scope.Set("dict", new Callable(args => args.Named.ToDictionary(kv => kv.Key, kv => kv.Value)));
    }

    private static object? Namespace(CallArgs args)
    {
        var ns = new Namespace();
        if (args.Positional.Count > 0 && args.Positional[0] is Dictionary<string, object?> initial)
            foreach (var (key, value) in initial) ns.Attributes[key] = value;
        foreach (var (key, value) in args.Named) ns.Attributes[key] = value;
        return ns;
    }

    private static object? Range(CallArgs args)
    {
        var bounds = args.Positional.Select(Values.ToLong).ToArray();
        var (start, stop, step) = bounds.Length switch
        {
            1 => (0L, bounds[0], 1L),
            2 => (bounds[0], bounds[1], 1L),
            3 => (bounds[0], bounds[1], bounds[2]),
            _ => throw new RuntimeError("range expected 1 to 3 arguments"),
        };
        if (step == 0) throw new RuntimeError("range() arg 3 must not be zero");
        var result = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step) result.Add(i);
        return result;
    }
}
