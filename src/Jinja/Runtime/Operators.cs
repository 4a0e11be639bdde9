namespace LoraService.Jinja.Runtime;

/// <summary>Python's arithmetic on runtime values; bools count as integers, as in Python.</summary>
internal static class Operators
{
    public static object? Binary(string op, object? a, object? b)
    {
        if (op == "~") return PyRepr.Str(a) + PyRepr.Str(b);
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (Values.IsNumber(a) && Values.IsNumber(b)) return Numeric(op, a, b);
        return (op, a, b) switch
        {
            ("+", string x, string y) => x + y,
            ("+", List<object?> x, List<object?> y) => (object)new List<object?>([.. x, .. y]),
            ("+", object?[] x, object?[] y) => (object?[])[.. x, .. y],
            ("*", string x, long or bool) => Repeat(x, b),
            ("*", long or bool, string y) => Repeat(y, a),
            ("*", List<object?> x, long or bool) => Enumerable.Repeat(x, (int)Math.Max(0, Values.ToLong(b))).SelectMany(l => l).ToList(),
            _ => throw new RuntimeError(
                $"unsupported operand type(s) for {op}: '{Values.TypeName(a)}' and '{Values.TypeName(b)}'"),
        };
    }

    private static string Repeat(string s, object? times) => string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, Values.ToLong(times))));

    private static object Numeric(string op, object? a, object? b)
    {
        var floating = a is double || b is double;
        if (op == "/")
        {
            var divisor = Values.ToDouble(b);
            return divisor == 0 ? throw new RuntimeError("division by zero") : Values.ToDouble(a) / divisor;
        }
        if (floating)
        {
            double x = Values.ToDouble(a), y = Values.ToDouble(b);
            if (op is "//" or "%" && y == 0) throw new RuntimeError("float division by zero");
            return op switch
            {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "//" => Math.Floor(x / y),
                "%" => x - y * Math.Floor(x / y),
                "**" => Math.Pow(x, y),
                _ => throw new RuntimeError($"unknown operator {op}"),
            };
        }
        long l = Values.ToLong(a), r = Values.ToLong(b);
        if (op is "//" or "%" && r == 0) throw new RuntimeError("integer division or modulo by zero");
        return op switch
        {
            "+" => l + r,
            "-" => l - r,
            "*" => l * r,
            "//" => FloorDiv(l, r),
            "%" => l - r * FloorDiv(l, r),
            "**" => r >= 0 ? (object)(long)Math.Pow(l, r) : Math.Pow(l, r),
            _ => throw new RuntimeError($"unknown operator {op}"),
        };
    }

    private static long FloorDiv(long l, long r) => l / r - ((l % r != 0) && ((l < 0) != (r < 0)) ? 1 : 0);

    public static object? Negate(object? value) => value switch
    {
        long l => (object)-l,
        bool b => b ? -1L : 0L,
        double d => -d,
        Undefined u => throw u.Fail(),
        _ => throw new RuntimeError($"bad operand type for unary -: '{Values.TypeName(value)}'"),
    };
}
