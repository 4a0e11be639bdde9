namespace LoraService.Jinja.Runtime;

/// <summary>Python str methods that templates call: <c>content.strip()</c>, <c>content.split('&lt;/think&gt;')</c>, …</summary>
internal static class PyString
{
    /// <summary>Python's str.isspace: .NET's whitespace plus the separators U+001C..U+001F.</summary>
    public static bool IsWhitespace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static string StripEnd(string s, string? chars = null) => s[..(s.Length - TrailingCount(s, chars))];

    public static string StripStart(string s, string? chars = null) => s[LeadingCount(s, chars)..];

    public static string Strip(string s, string? chars = null) => StripEnd(StripStart(s, chars), chars);

    private static bool Strippable(char c, string? chars) => chars is null ? IsWhitespace(c) : chars.Contains(c);

    private static int LeadingCount(string s, string? chars)
    {
        var i = 0;
        while (i < s.Length && Strippable(s[i], chars)) i++;
        return i;
    }

    private static int TrailingCount(string s, string? chars)
    {
        var i = 0;
        while (i < s.Length && Strippable(s[s.Length - 1 - i], chars)) i++;
        return i;
    }

    public static object? Method(string s, string name) => name switch
    {
        "strip" => Bind(args => Strip(s, Chars(args))),
        "lstrip" => Bind(args => StripStart(s, Chars(args))),
        "rstrip" => Bind(args => StripEnd(s, Chars(args))),
        "split" => Bind(args => Split(s, args, fromRight: false)),
        "rsplit" => Bind(args => Split(s, args, fromRight: true)),
        "startswith" => Bind(args => Affix(args, p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => Bind(args => Affix(args, p => s.EndsWith(p, StringComparison.Ordinal))),
        "replace" => Bind(args => Replace(s, Text(args, 0, "old"), Text(args, 1, "new"), args.Get(2, "count"))),
        "upper" => Bind(_ => s.ToUpperInvariant()),
        "lower" => Bind(_ => s.ToLowerInvariant()),
        "title" => Bind(_ => Title(s)),
        "capitalize" => Bind(_ => Capitalize(s)),
        "find" => Bind(args => (long)s.IndexOf(Text(args, 0, "sub"), StringComparison.Ordinal)),
        "count" => Bind(args => (long)Count(s, Text(args, 0, "sub"))),
        "join" => Bind(args => string.Join(s, Values.Iterate(args.Get(0, "iterable")).Select(PyRepr.Str))),
        "isdigit" => Bind(_ => s.Length > 0 && s.All(char.IsDigit)),
        "isspace" => Bind(_ => s.Length > 0 && s.All(IsWhitespace)),
        _ => new Undefined($"'str object' has no attribute '{name}'"),
    };

    private static Callable Bind(Func<CallArgs, object?> body) => new(body);

    private static string? Chars(CallArgs args) => args.Get(0, "chars") switch
    {
        null => null,
        string c => c,
        var other => throw new RuntimeError($"strip arg must be None or str, not {Values.TypeName(other)}"),
    };

    private static string Text(CallArgs args, int index, string name) => args.Get(index, name) as string
        ?? throw new RuntimeError($"argument '{name}' must be a string");

    private static bool Affix(CallArgs args, Func<string, bool> test) => args.Get(0, "prefix") switch
    {
        string p => test(p),
        object?[] options => options.OfType<string>().Any(test),
        var other => throw new RuntimeError($"startswith/endswith first arg must be str or a tuple of str, not {Values.TypeName(other)}"),
    };

    private static List<object?> Split(string s, CallArgs args, bool fromRight)
    {
        var separator = args.Get(0, "sep");
        var max = args.Get(1, "maxsplit") is { } m ? (int)Values.ToLong(m) : -1;
        if (separator is null)
        {
            var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(w => (object?)w).ToList();
            if (max < 0 || words.Count <= max + 1) return words;
            return fromRight ? SplitWhitespaceRight(s, max) : SplitWhitespaceLeft(s, max);
        }
        if (separator is not string sep || sep.Length == 0) throw new RuntimeError("empty or non-string separator");
        if (max < 0) return [.. s.Split(sep)];
        if (!fromRight) return [.. s.Split(sep, max + 1)];
        var parts = new List<object?>();
        var end = s.Length;
        while (parts.Count < max)
        {
            var at = end == 0 ? -1 : s.LastIndexOf(sep, end - 1, StringComparison.Ordinal);
            if (at < 0 || at + sep.Length > end) break;
            parts.Insert(0, s[(at + sep.Length)..end]);
            end = at;
        }
        parts.Insert(0, s[..end]);
        return parts;
    }

    private static List<object?> SplitWhitespaceLeft(string s, int max)
    {
        var parts = new List<object?>();
        var rest = StripStart(s);
        while (parts.Count < max && rest.Length > 0)
        {
            var end = 0;
            while (end < rest.Length && !IsWhitespace(rest[end])) end++;
            parts.Add(rest[..end]);
            rest = StripStart(rest[end..]);
        }
        if (rest.Length > 0) parts.Add(rest);
        return parts;
    }

    private static List<object?> SplitWhitespaceRight(string s, int max)
    {
        var parts = new List<object?>();
        var rest = StripEnd(s);
        while (parts.Count < max && rest.Length > 0)
        {
            var start = rest.Length;
            while (start > 0 && !IsWhitespace(rest[start - 1])) start--;
            parts.Insert(0, rest[start..]);
            rest = StripEnd(rest[..start]);
        }
        if (rest.Length > 0) parts.Insert(0, rest);
        return parts;
    }

    public static string Replace(string s, string old, string replacement, object? count)
    {
        var max = count is null ? -1 : Values.ToLong(count);
        if (max < 0) return old.Length == 0 ? InsertEverywhere(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        var result = s;
        var from = 0;
        for (var n = 0; n < max; n++)
        {
            var at = result.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            result = result[..at] + replacement + result[(at + old.Length)..];
            from = at + replacement.Length + (old.Length == 0 ? 1 : 0);
        }
        return result;
    }

    private static string InsertEverywhere(string s, string insert) =>
        insert + string.Concat(Values.StringElements(s).Select(c => c + insert));

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        var n = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Python's str.title: a letter after a non-letter is upper-cased, every other letter lower-cased.</summary>
    public static string Title(string s)
    {
        var chars = s.ToCharArray();
        var previousIsLetter = false;
        for (var i = 0; i < chars.Length; i++)
        {
            var isLetter = char.IsLetter(chars[i]);
            chars[i] = isLetter ? previousIsLetter ? char.ToLowerInvariant(chars[i]) : char.ToUpperInvariant(chars[i]) : chars[i];
            previousIsLetter = isLetter;
        }
        return new string(chars);
    }
}
