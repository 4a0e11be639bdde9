using System.Globalization;
using System.Text;

namespace LoraService.Jinja.Runtime;

/// <summary>C strftime in the C locale, for <c>strftime_now</c>; glibc's <c>%-d</c> (no padding) included.</summary>
internal static class Strftime
{
    public static string Format(DateTime t, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            var unpadded = format[i + 1] == '-' && i + 2 < format.Length;
            if (unpadded) i++;
            var code = format[++i];
            string Num(int value, int width) => unpadded ? value.ToString(c) : value.ToString(c).PadLeft(width, '0');
            sb.Append(code switch
            {
                'd' => Num(t.Day, 2),
                'm' => Num(t.Month, 2),
                'Y' => t.Year.ToString(c),
                'y' => Num(t.Year % 100, 2),
                'H' => Num(t.Hour, 2),
                'I' => Num(t.Hour % 12 == 0 ? 12 : t.Hour % 12, 2),
                'M' => Num(t.Minute, 2),
                'S' => Num(t.Second, 2),
                'j' => Num(t.DayOfYear, 3),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' or 'h' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'F' => t.ToString("yyyy-MM-dd", c),
                'T' => t.ToString("HH:mm:ss", c),
                '%' => "%",
                _ => "%" + code,
            });
        }
        return sb.ToString();
    }
}
