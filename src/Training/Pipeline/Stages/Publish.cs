using LoraService.Training.Export;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>Publish: each top-level entry of the staging folder is renamed into the output directory, so it appears complete or not at all.</summary>
public static class Publish
{
    /// <returns>Every file now under <paramref name="output"/> that came from <paramref name="staging"/>, described.</returns>
    internal static IReadOnlyList<ProducedFile> Move(string staging, string output)
    {
        var produced = new List<ProducedFile>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(staging).Order(StringComparer.Ordinal).ToList())
        {
            var name = Path.GetFileName(entry);
            var target = Path.Combine(output, name);
            if (Directory.Exists(entry))
            {
                if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                Directory.Move(entry, target);
                produced.AddRange(Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                    .Select(f => Describe(Path.GetRelativePath(output, f).Replace('\\', '/'))));
            }
            else
            {
                File.Move(entry, target, overwrite: true);
                produced.Add(Describe(name));
            }
        }
        return produced;
    }

    /// <summary>The artifact kind and content type of a file under the output directory.</summary>
    public static ProducedFile Describe(string relativePath)
    {
        var folder = relativePath.Contains('/') ? relativePath[..relativePath.IndexOf('/')] : "";
        var file = Path.GetFileName(relativePath);
        var kind = (folder, file) switch
        {
            (RunLayout.AdapterFolder, AdapterExporter.ConfigFile) => "adapter_config",
            (RunLayout.AdapterFolder, _) => "adapter",
            (RunLayout.MergedFolder, _) => "merged_model",
            (RunLayout.ModelFolder, _) => "model",
            (_, RunLayout.SpectralFile) => "spectral",
            (_, RunLayout.MetricsFile) => "metrics",
            (_, RunLayout.SummaryFile) => "summary",
            _ => "other",
        };
        var contentType = Path.GetExtension(file) switch
        {
            ".json" => "application/json",
            ".jsonl" => "application/x-ndjson",
            ".txt" => "text/plain",
            _ => "application/octet-stream",
        };
        return new ProducedFile(kind, relativePath, contentType);
    }
}
