namespace LoraService.Domain.Artifacts;

/// <summary>Artifact store on a local or shared (NFS, PVC) folder.</summary>
public sealed class FileSystemArtifactStore(string root) : IArtifactStore
{
    private readonly string _root = Path.GetFullPath(root);

    public string PathFor(string key)
    {
        if (string.IsNullOrWhiteSpace(key) || Path.IsPathRooted(key) || key.Split('/', '\\').Contains(".."))
            throw new ArgumentException($"Invalid artifact key '{key}'.", nameof(key));
        var path = Path.GetFullPath(Path.Combine(_root, key));
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"Invalid artifact key '{key}'.", nameof(key));
        return path;
    }

    public string NewTempPath(string key)
    {
        var path = PathFor(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return $"{path}.{Guid.NewGuid():N}.tmp";
    }

    /// <summary>Flushes the temp file to disk, then renames it into place: the key never names a file still in the page cache.</summary>
    public void Commit(string tempPath, string key)
    {
        using (var file = new FileStream(tempPath, FileMode.Open, FileAccess.Write))
            file.Flush(flushToDisk: true);
        File.Move(tempPath, PathFor(key), overwrite: true);
    }

    public async Task<long> WriteAsync(string key, Stream content, CancellationToken cancellationToken)
    {
        var path = PathFor(key);
        var temp = NewTempPath(key);
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await content.CopyToAsync(file, cancellationToken);
            }
            Commit(temp, key);
            return new FileInfo(path).Length;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public Stream OpenRead(string key) =>
        new FileStream(PathFor(key), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);

    public bool Exists(string key) => File.Exists(PathFor(key)) || Directory.Exists(PathFor(key));

    public void Delete(string key)
    {
        var path = PathFor(key);
        if (File.Exists(path)) File.Delete(path);
        else if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
    }
}
