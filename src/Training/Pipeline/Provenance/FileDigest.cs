using System.Security.Cryptography;

namespace LoraService.Training.Pipeline.Provenance;

/// <summary>SHA-256 of a file, read in chunks: a cancel is checked and progress reported (<see cref="RunPulse"/>) per chunk.</summary>
public static class FileDigest
{
    private const int ChunkBytes = 4 << 20;

    /// <returns>Lowercase hex, as <c>sha256sum</c> prints it.</returns>
    public static string Sha256(string path, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        var buffer = new byte[ChunkBytes];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            hash.AppendData(buffer, 0, read);
            RunPulse.Beat();
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
