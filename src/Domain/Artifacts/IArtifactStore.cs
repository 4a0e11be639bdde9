namespace LoraService.Domain.Artifacts;

/// <summary>Files by opaque key. Keys are made by the service, never taken from clients.</summary>
public interface IArtifactStore
{
    /// <summary>Absolute path for a key; the key must be a relative path without "..".</summary>
    string PathFor(string key);

    /// <summary>Streams content to a temp file and renames it into place, so readers never see half a file.</summary>
    Task<long> WriteAsync(string key, Stream content, CancellationToken cancellationToken);

    /// <summary>A fresh temp path beside <paramref name="key"/>, for writers that stream into place themselves.</summary>
    string NewTempPath(string key);

    /// <summary>Moves a finished temp file into place under <paramref name="key"/>.</summary>
    void Commit(string tempPath, string key);

    Stream OpenRead(string key);

    bool Exists(string key);

    void Delete(string key);
}
