namespace LoraService.Domain.Artifacts;

/// <summary>Files by opaque key. Keys are made by the service, never taken from clients.</summary>
public interface IArtifactStore
{
    /// <summary>Absolute path for a key; the key must be a relative path without "..".</summary>
    string PathFor(string key);

    /// <summary>Streams content to a temp file and renames it into place, so readers never see half a file.</summary>
    Task<long> WriteAsync(string key, Stream content, CancellationToken cancellationToken);

    Stream OpenRead(string key);

    bool Exists(string key);

    void Delete(string key);
}
