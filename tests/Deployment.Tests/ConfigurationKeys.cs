using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;

namespace LoraService.Deployment.Tests;

/// <summary>
/// Every setting the hosts read, taken from the code: the properties of each options class (a type with a
/// <c>Section</c> constant, bound with <c>GetSection(Section).Get&lt;T&gt;()</c>), nested records, dictionaries and arrays
/// included; the keys read one by one (<c>GetValue("Section:Key", …)</c>, the connection string); and the few
/// variables read outside .NET configuration.
/// </summary>
internal static partial class ConfigurationKeys
{
    /// <summary>Read by the runtime or the OS, not by our configuration: the listen URLs, glibc's malloc tunables.</summary>
    private static readonly string[] HostVariables = ["ASPNETCORE_URLS", "GLIBC_TUNABLES"];

    /// <summary>Sections handed whole to a library that reads its own keys (Serilog's ReadFrom.Configuration).</summary>
    private static readonly string[] LibrarySections = ["Serilog"];

    public static Assembly[] HostAssemblies { get; } =
        new[] { "LoraService.Api", "LoraService.Worker", "LoraService.ServiceDefaults", "LoraService.Domain" }
            .Select(n => Assembly.Load(n)).ToArray();

    /// <summary>Why the environment variable <paramref name="name"/> is not a setting of the code, or null when it is.</summary>
    public static string? Problem(string name)
    {
        if (HostVariables.Contains(name, StringComparer.Ordinal)) return null;
        if (name.StartsWith("OTEL_", StringComparison.Ordinal))
            return name == LoraService.ServiceDefaults.Observability.ServiceTracing.OtlpEndpointVariable ? null : $"{name}: only {LoraService.ServiceDefaults.Observability.ServiceTracing.OtlpEndpointVariable} switches tracing on";
        var path = name.Split("__");
        if (path.Length < 2) return $"{name}: not a Section__Key setting and not a variable the hosts read";
        if (LibrarySections.Contains(path[0], StringComparer.OrdinalIgnoreCase)) return null;
        if (ReadOneByOne.Value.Contains(string.Join(':', path))) return null;
        var sections = OptionsClasses.Value.Where(o => string.Equals(o.Section, path[0], StringComparison.OrdinalIgnoreCase)).ToList();
        if (sections.Count == 0) return $"{name}: no options class has section '{path[0]}' and no code reads '{string.Join(':', path)}'";
        return sections.Any(o => Binds(o.Type, path[1..])) ? null
            : $"{name}: '{string.Join(':', path[1..])}' is not a property of {string.Join(" or ", sections.Select(o => o.Type.Name))} (section {path[0]})";
    }

    /// <summary>True when the configuration path binds to a property of <paramref name="type"/> (case-insensitive, like the binder).</summary>
    private static bool Binds(Type type, string[] path)
    {
        if (path.Length == 0) return true;
        if (Dictionary(type) is { } value) return Binds(value, path[1..]);
        if (Element(type) is { } element) return int.TryParse(path[0], out _) && Binds(element, path[1..]);
        var property = type.GetProperty(path[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null || property.SetMethod is null) return false;
        return path.Length == 1 ? IsLeaf(property.PropertyType) : Binds(property.PropertyType, path[1..]);
    }

    private static bool IsLeaf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Guid);
    }

    private static Type? Dictionary(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) ? type.GetGenericArguments()[1] : null;

    private static Type? Element(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericTypeDefinition() != typeof(Dictionary<,>) ? type.GetGenericArguments()[0]
        : null;

    private static readonly Lazy<List<(string Section, Type Type)>> OptionsClasses = new(() =>
        HostAssemblies.SelectMany(a => a.GetTypes())
            .Select(t => (Type: t, Field: t.GetField("Section", BindingFlags.Public | BindingFlags.Static)))
            .Where(x => x.Field is { IsLiteral: true } && x.Field.FieldType == typeof(string))
            .Select(x => ((string)x.Field!.GetRawConstantValue()!, x.Type))
            .ToList());

    /// <summary>Keys the code reads one at a time: <c>GetValue("A:B", …)</c> in src/, and the connection string.</summary>
    private static readonly Lazy<HashSet<string>> ReadOneByOne = new(() =>
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { $"ConnectionStrings:{LoraService.ServiceDefaults.Extensions.ConnectionStringName}" };
        foreach (var file in Directory.EnumerateFiles(Repo.File("src"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) continue;
            foreach (Match m in GetValueCall().Matches(File.ReadAllText(file))) keys.Add(m.Groups["key"].Value);
        }
        return keys;
    });

    [GeneratedRegex(@"GetValue(?:<[^>]+>)?\(""(?<key>[A-Za-z0-9]+(?::[A-Za-z0-9]+)+)""")]
    private static partial Regex GetValueCall();
}
