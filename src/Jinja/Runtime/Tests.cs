namespace LoraService.Jinja.Runtime;

/// <summary>The <c>is</c> tests.</summary>
internal static class Tests
{
    public static bool Apply(string name, object? value, CallArgs args) => name switch
    {
        "defined" => value is not Undefined,
        "undefined" => value is Undefined,
        "none" => value is null,
        "string" => value is string,
        "mapping" => value is Dictionary<string, object?>,
        "iterable" => value is string or List<object?> or object?[] or Dictionary<string, object?>,
        "sequence" => value is string or List<object?> or object?[] or Dictionary<string, object?>,
        "number" => Values.IsNumber(value),
        "integer" => value is long,
        "float" => value is double,
        "boolean" => value is bool,
        "true" => value is true,
        "false" => value is false,
        "callable" => value is Callable,
        "odd" => Values.ToLong(value) % 2 != 0,
        "even" => Values.ToLong(value) % 2 == 0,
        "divisibleby" => Values.ToLong(value) % Values.ToLong(args.Get(0, "num")) == 0,
        "lower" => value is string s && s == s.ToLowerInvariant(),
        "upper" => value is string u && u == u.ToUpperInvariant(),
        "eq" or "equalto" or "==" => Values.Equals(value, args.Get(0, "other")),
        "ne" or "!=" => !Values.Equals(value, args.Get(0, "other")),
        "lt" or "lessthan" or "<" => Values.Compare(value, args.Get(0, "other"), "<") < 0,
        "le" or "<=" => Values.Compare(value, args.Get(0, "other"), "<=") <= 0,
        "gt" or "greaterthan" or ">" => Values.Compare(value, args.Get(0, "other"), ">") > 0,
        "ge" or ">=" => Values.Compare(value, args.Get(0, "other"), ">=") >= 0,
        "in" => Values.Contains(args.Get(0, "seq"), value),
        "sameas" => ReferenceEquals(value, args.Get(0, "other")) || (value is null && args.Get(0, "other") is null),
        _ => throw new RuntimeError($"no test named '{name}'"),
    };
}
