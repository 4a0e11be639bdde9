using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using LoraService.Contracts.Jobs;

namespace LoraService.Contracts.Sweeps;

/// <summary>The fields of a <see cref="JobSpec"/> by their dotted wire path (<c>lora.rank</c>, <c>hyperparameters.learning_rate</c>).</summary>
public static class SpecPaths
{
    /// <summary>The CLR type of the field at <paramref name="path"/>; null when the spec has no such field.</summary>
    public static Type? FieldType(string path)
    {
        var type = typeof(JobSpec);
        var segments = path.Split('.');
        for (var i = 0; i < segments.Length; i++)
        {
            var property = Properties(type).FirstOrDefault(p => p.Name == segments[i]);
            if (property.Type is null) return null;
            if (i == segments.Length - 1) return property.Type;
            type = Nullable.GetUnderlyingType(property.Type) ?? property.Type;
            if (!IsObject(type)) return null;
        }
        return null;
    }

    /// <summary>Every field's path, parents before their fields.</summary>
    public static IEnumerable<string> All() => All(typeof(JobSpec), "");

    private static IEnumerable<string> All(Type type, string prefix)
    {
        foreach (var (name, propertyType) in Properties(type))
        {
            yield return prefix + name;
            var inner = Nullable.GetUnderlyingType(propertyType) ?? propertyType;
            if (IsObject(inner))
                foreach (var path in All(inner, prefix + name + ".")) yield return path;
        }
    }

    /// <summary>The spec's own records (lora, hyperparameters, ...) have fields below them; strings, numbers and lists do not.</summary>
    private static bool IsObject(Type type) => type.IsClass && type != typeof(string) && type.Namespace == typeof(JobSpec).Namespace;

    private static IEnumerable<(string Name, Type Type)> Properties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => (p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), p.PropertyType));
}
