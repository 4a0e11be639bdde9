using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;

namespace LoraService.Training.Pipeline.Provenance;

/// <summary>
/// The base model's weights as one SHA-256. For each <c>*.safetensors</c> file at the top of the model folder, in
/// ordinal (byte) order of file name, the UTF-8 file name, one NUL byte and the file's SHA-256 as 64 lowercase hex
/// digits are concatenated, with no other separator; <see cref="Sha256"/> is the SHA-256 of that, in lowercase hex.
/// A user recomputes it in the model folder with:
/// <code>export LC_ALL=C; for f in *.safetensors; do printf '%s\0%s' "$f" "$(sha256sum &lt; "$f" | cut -c1-64)"; done | sha256sum</code>
/// </summary>
/// <param name="Files">Each weight file's own SHA-256, by file name.</param>
public sealed record WeightsDigest(string Sha256, IReadOnlyDictionary<string, string> Files)
{
    public static WeightsDigest Compute(string modelDirectory, CancellationToken cancellationToken = default)
    {
        var paths = Directory.GetFiles(modelDirectory, "*.safetensors", SearchOption.TopDirectoryOnly);
        var digests = new string[paths.Length];
        // A shard a thread: one core hashes about as fast as a disk reads (docs/benchmarks.md, loading), so one thread
        // alone would leave a fast disk idle.
        try
        {
            Parallel.For(0, paths.Length, new ParallelOptions { CancellationToken = cancellationToken },
                i => digests[i] = FileDigest.Sha256(paths[i], cancellationToken));
        }
        catch (AggregateException e)
        {
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < paths.Length; i++)
            files[Path.GetFileName(paths[i])] = digests[i];
        using var combined = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, sha256) in files)
        {
            combined.AppendData(Encoding.UTF8.GetBytes(name));
            combined.AppendData([0]);
            combined.AppendData(Encoding.ASCII.GetBytes(sha256));
        }
        return new WeightsDigest(Convert.ToHexStringLower(combined.GetHashAndReset()), files);
    }
}
