using System.IO.Compression;
using System.Security.Cryptography;
using LoraService.Domain.Artifacts;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Records a run's output files as artifacts (size, SHA-256), and packs each output folder (adapter/, merged/, model/)
/// into one zip so a PEFT adapter or a whole checkpoint downloads in one request.
/// </summary>
internal static class ArtifactRegistrar
{
    public static IReadOnlyList<Artifact> Register(IArtifactStore store, Guid jobId, Guid tenantId, string outputKey,
        IEnumerable<(string Kind, string RelativePath, string ContentType)> files)
    {
        var artifacts = new List<Artifact>();
        var folders = new Dictionary<string, string>();
        foreach (var (kind, relative, contentType) in files)
        {
            var key = $"{outputKey}/{relative}";
            artifacts.Add(Describe(jobId, tenantId, kind, key, store.PathFor(key), contentType));
            var slash = relative.IndexOf('/');
            if (slash > 0) folders.TryAdd(relative[..slash], kind == "adapter_config" ? "adapter" : kind);
        }
        foreach (var (folder, kind) in folders)
        {
            var archiveKey = $"{outputKey}/{folder}.zip";
            var archive = store.PathFor(archiveKey);
            var temp = store.NewTempPath(archiveKey);
            ZipFile.CreateFromDirectory(store.PathFor($"{outputKey}/{folder}"), temp, CompressionLevel.Fastest, includeBaseDirectory: true);
            store.Commit(temp, archiveKey);
            artifacts.Add(Describe(jobId, tenantId, kind + "_archive", archiveKey, archive, "application/zip"));
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
}
