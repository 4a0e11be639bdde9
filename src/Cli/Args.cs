namespace LoraService.Cli;

/// <summary>Minimal <c>--name value</c> / <c>--flag</c> parsing; unknown options are errors.</summary>
sealed class Args
{
    readonly Dictionary<string, string?> values = new(StringComparer.Ordinal);
    readonly HashSet<string> used = new(StringComparer.Ordinal);

    public Args(IEnumerable<string> argv)
    {
        var list = argv.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length < 3)
                throw new UsageException($"unexpected argument '{a}'");
            var name = a[2..];
            string? value = null;
            var eq = name.IndexOf('=');
            if (eq >= 0)
                (name, value) = (name[..eq], name[(eq + 1)..]);
            else if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal))
                value = list[++i];
            values[name] = value;
        }
    }

    public string? Str(string name)
    {
        used.Add(name);
        return values.TryGetValue(name, out var v) ? v ?? throw new UsageException($"--{name} needs a value") : null;
    }

    public string Required(string name) => Str(name) ?? throw new UsageException($"--{name} is required");

    public int? Int(string name) => Str(name) is { } s
        ? int.TryParse(s, out var v) ? v : throw new UsageException($"--{name}: '{s}' is not an integer")
        : null;

    public double? Double(string name) => Str(name) is { } s
        ? double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v : throw new UsageException($"--{name}: '{s}' is not a number")
        : null;

    public bool Flag(string name)
    {
        used.Add(name);
        if (!values.TryGetValue(name, out var v))
            return false;
        return v is null || v is "1" or "true" ? true : v is "0" or "false" ? false
            : throw new UsageException($"--{name} takes no value");
    }

    public string[] List(string name, string fallback) =>
        (Str(name) ?? fallback).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Call after reading every option: rejects the ones nobody asked for.</summary>
    public void EnsureAllUsed()
    {
        var unknown = values.Keys.Where(k => !used.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new UsageException($"unknown option(s): {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}

sealed class UsageException(string message) : Exception(message);
