using LoraService.Domain.Artifacts;

namespace LoraService.Domain.Jobs;

/// <summary>Removes a job's files from the artifact store; every call is idempotent.</summary>
public static class JobFiles
{
    /// <summary>Work folder (checkpoints, journal), output folder (files and cached archives) and the folder around them.</summary>
    public static void DeleteAll(IArtifactStore store, Guid jobId)
    {
        store.Delete(JobStorageKeys.Work(jobId));
        store.Delete(JobStorageKeys.Output(jobId));
        store.Delete(JobStorageKeys.Root(jobId));
    }

    public static void DeleteCheckpoints(IArtifactStore store, Guid jobId) => store.Delete(JobStorageKeys.Checkpoints(jobId));

    /// <summary>Bytes under a key (a file or a folder); 0 when it does not exist.</summary>
    public static long Bytes(IArtifactStore store, string key)
    {
        var path = store.PathFor(key);
        if (File.Exists(path)) return new FileInfo(path).Length;
        return Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;
    }
}
