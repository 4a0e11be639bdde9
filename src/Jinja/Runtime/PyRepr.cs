using System.Globalization;
using System.Text;

namespace LoraService.Jinja.Runtime;

/// <summary>Python's <c>str()</c> and <c>repr()</c>, which is what printing a value in Jinja2 shows.</summary>
internal static class PyRepr
{
    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    public static string Repr(object? value) => value switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Float(d),
        string s => Quote(s),
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        object?[] tuple => tuple.Length == 1 ? $"({Repr(tuple[0])},)" : "(" + string.Join(", ", tuple.Select(Repr)) + ")",
        Dictionary<string, object?> dict => "{" + string.Join(", ", dict.Select(kv => Quote(kv.Key) + ": " + Repr(kv.Value))) + "}",
        Namespace ns => "<Namespace " + Repr(ns.Attributes) + ">",
        _ => $"<{Values.TypeName(value)} object>",
    };

    /// <summary>Python's shortest round-trip float text: <c>1.0</c>, <c>0.1</c>, <c>1e-05</c>, <c>1e+16</c>.</summary>
    public static string Float(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        var exponentAt = r.IndexOf('E');
        var mantissa = exponentAt < 0 ? r : r[..exponentAt];
        var exponent = exponentAt < 0 ? 0 : int.Parse(r[(exponentAt + 1)..], CultureInfo.InvariantCulture);
        var digits = mantissa.TrimStart('-').Replace(".", "");
        var pointAt = mantissa.TrimStart('-').IndexOf('.') is var p and >= 0 ? p : mantissa.TrimStart('-').Length;
        var decimalExponent = pointAt + exponent - 1 - (digits.Length - digits.TrimStart('0').Length);
        var sign = d < 0 || (d == 0 && double.IsNegative(d)) ? "-" : "";
        digits = digits.TrimStart('0').TrimEnd('0');
        if (digits.Length == 0) return sign + "0.0";
        if (decimalExponent < -4 || decimalExponent >= 16)
        {
            var m = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            return $"{sign}{m}e{(decimalExponent < 0 ? "-" : "+")}{Math.Abs(decimalExponent):00}";
        }
        if (decimalExponent < 0) return sign + "0." + new string('0', -decimalExponent - 1) + digits;
        if (digits.Length <= decimalExponent + 1) return sign + digits + new string('0', decimalExponent + 1 - digits.Length) + ".0";
        return sign + digits[..(decimalExponent + 1)] + "." + digits[(decimalExponent + 1)..];
    }

    private static string Quote(string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append($"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }
}
