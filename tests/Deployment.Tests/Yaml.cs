using YamlDotNet.RepresentationModel;

namespace LoraService.Deployment.Tests;

/// <summary>YAML documents as plain values: dictionaries (string keys), lists and strings; anchors and aliases resolved.</summary>
internal static class Yaml
{
    public static List<object?> Load(string relative)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(Repo.Read(relative))) stream.Load(reader);
        return stream.Documents.Select(d => Convert(d.RootNode)).ToList();
    }

    public static Dictionary<string, object?> Map(object? value) => value as Dictionary<string, object?> ?? [];

    public static List<object?> List(object? value) => value as List<object?> ?? [];

    public static object? At(object? value, params string[] path)
    {
        foreach (var key in path) value = Map(value).GetValueOrDefault(key);
        return value;
    }

    private static object? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => map.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => Convert(c.Value)),
        YamlSequenceNode list => list.Children.Select(Convert).ToList(),
        YamlScalarNode scalar => scalar.Value,
        _ => null,
    };
}
