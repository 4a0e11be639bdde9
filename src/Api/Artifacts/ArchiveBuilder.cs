using System.IO.Compression;
using System.Security.Cryptography;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Artifacts;

/// <summary>
/// Zips an output folder (adapter/, merged/, model/) on the archive's first download and keeps the zip; the row then
/// gets its size and SHA-256. One build at a time per process; two API instances racing build the same bytes and the
/// last rename wins.
/// </summary>
internal static class ArchiveBuilder
{
    private static readonly SemaphoreSlim Building = new(1, 1);

    public static bool IsArchive(Artifact artifact) => artifact.Kind.EndsWith("_archive", StringComparison.Ordinal);

    /// <summary>The archive row once its zip is on disk; null when the folder it packs is gone.</summary>
    public static async Task<Artifact?> EnsureBuiltAsync(LoraDbContext db, IArtifactStore store, Artifact archive, CancellationToken ct)
    {
        if (archive.Sha256 is not null && store.Exists(archive.StorageKey)) return archive;
        await Building.WaitAsync(ct);
        try
        {
            var current = await db.Artifacts.AsNoTracking().SingleOrDefaultAsync(a => a.Id == archive.Id, ct);
            if (current is null || (current.Sha256 is not null && store.Exists(current.StorageKey))) return current;
            var folder = store.PathFor(current.StorageKey[..^".zip".Length]);
            if (!Directory.Exists(folder)) return null;

            var temp = store.NewTempPath(current.StorageKey);
            try
            {
                await Task.Run(() => ZipFile.CreateFromDirectory(folder, temp, CompressionLevel.Fastest, includeBaseDirectory: true), ct);
                await using (var zip = File.OpenRead(temp))
                {
                    current.Bytes = zip.Length;
                    current.Sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(zip, ct));
                }
                store.Commit(temp, current.StorageKey);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            await db.Artifacts.Where(a => a.Id == current.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.Sha256, current.Sha256).SetProperty(a => a.Bytes, current.Bytes), ct);
            return current;
        }
        finally
        {
            Building.Release();
        }
    }
}
