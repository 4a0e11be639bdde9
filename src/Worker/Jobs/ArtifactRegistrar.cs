using System.IO.Compression;
using System.Security.Cryptography;
using LoraService.Domain.Artifacts;

namespace LoraService.Worker.Jobs;

/// <summary>Records a job's output files as artifacts (size, SHA-256) and packs directories (adapter, models) into zip archives.</summary>
internal static class ArtifactRegistrar
{
    public static IReadOnlyList<Artifact> Describe(IArtifactStore store, Guid jobId, Guid tenantId, string outputKey, IEnumerable<(string Kind, string RelativePath, string ContentType)> files)
    {
        var artifacts = new List<Artifact>();
        foreach (var (kind, relative, contentType) in files)
        {
            var key = $"{outputKey}/{relative}".TrimEnd('/');
            var path = store.PathFor(key);
            if (Directory.Exists(path))
            {
                foreach (var file in Directory.EnumerateFiles(path).Order())
                    artifacts.Add(Describe(jobId, tenantId, kind, $"{key}/{Path.GetFileName(file)}", file, ContentTypeFor(file)));
                var archiveKey = key + ".zip";
                var archive = store.PathFor(archiveKey);
                var temp = archive + ".tmp";
                File.Delete(temp);
                ZipFile.CreateFromDirectory(path, temp, CompressionLevel.Fastest, includeBaseDirectory: true);
                File.Move(temp, archive, overwrite: true);
                artifacts.Add(Describe(jobId, tenantId, kind + "_archive", archiveKey, archive, "application/zip"));
            }
            else if (File.Exists(path))
            {
                artifacts.Add(Describe(jobId, tenantId, kind, key, path, contentType));
            }
        }
        return artifacts;
    }

    private static Artifact Describe(Guid jobId, Guid tenantId, string kind, string key, string path, string contentType)
    {
        using var stream = File.OpenRead(path);
        return new Artifact
        {
            JobId = jobId, TenantId = tenantId, Kind = kind, StorageKey = key, ContentType = contentType,
            FileName = Path.GetFileName(path), Bytes = stream.Length, Sha256 = Convert.ToHexStringLower(SHA256.HashData(stream)),
        };
    }

    private static string ContentTypeFor(string file) => Path.GetExtension(file) switch
    {
        ".json" => "application/json",
        ".jsonl" => "application/jsonl",
        _ => "application/octet-stream",
    };
}
