namespace LoraService.Jinja.Runtime;

/// <summary>Anything a template can call: globals, macros, bound string and dict methods.</summary>
internal delegate object? Callable(CallArgs args);

internal sealed record CallArgs(IReadOnlyList<object?> Positional, IReadOnlyDictionary<string, object?> Named)
{
    public static CallArgs Of(params object?[] positional) => new(positional, new Dictionary<string, object?>());

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null) =>
        index >= 0 && index < Positional.Count ? Positional[index] : Named.TryGetValue(name, out var v) ? v : fallback;

    public bool Has(int index, string name) => (index >= 0 && index < Positional.Count) || Named.ContainsKey(name);
}
