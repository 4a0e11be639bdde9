namespace LoraService.Datasets.Samples;

static class JsonlFiles
{
    /// <summary>Writes each named set of lines to <c>directory/name.jsonl</c>; returns the paths by name.</summary>
    public static IReadOnlyDictionary<string, string> WriteAll(string directory, IReadOnlyDictionary<string, IEnumerable<string>> files)
    {
        Directory.CreateDirectory(directory);
        var paths = new Dictionary<string, string>();
        foreach (var (name, lines) in files)
        {
            var path = Path.Combine(directory, name + ".jsonl");
            File.WriteAllLines(path, lines);
            paths[name] = path;
        }
        return paths;
    }
}
