using System.Security.Cryptography;
using LoraService.Domain.Artifacts;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Records a run's output files as artifacts (size, SHA-256), and one archive per output folder (adapter/, merged/,
/// model/) so a PEFT adapter or a whole checkpoint downloads in one request. Archives are zipped on their first download
/// (the API's ArchiveBuilder), not here: most are never fetched, and a zip doubles a merged model's bytes.
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
            artifacts.Add(new Artifact
            {
                JobId = jobId, TenantId = tenantId, Kind = kind + "_archive", StorageKey = $"{outputKey}/{folder}.zip",
                ContentType = "application/zip", FileName = folder + ".zip", Bytes = 0, Sha256 = null,
            });
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
