namespace LoraService.Jinja.Runtime;

/// <summary>The dict methods templates call: <c>get</c>, <c>items</c>, <c>keys</c>, <c>values</c>.</summary>
internal static class DictMethods
{
    /// <summary>The bound method, or null when <paramref name="name"/> is not one (then it is a key lookup).</summary>
    public static Callable? Method(Dictionary<string, object?> d, string name) => name switch
    {
        "get" => args => args.Get(0, "key") is string k && d.TryGetValue(k, out var v) ? v : args.Get(1, "default"),
        "items" => _ => Items(d),
        "keys" => _ => d.Keys.Select(k => (object?)k).ToList(),
        "values" => _ => d.Values.ToList(),
        _ => null,
    };

    public static List<object?> Items(Dictionary<string, object?> d) => d.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
}
