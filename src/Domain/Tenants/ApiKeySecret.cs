using System.Security.Cryptography;
using System.Text;

namespace LoraService.Domain.Tenants;

/// <summary>Key format <c>lsk_&lt;prefix&gt;_&lt;secret&gt;</c>. The prefix is stored in clear for lookup; the whole key only as SHA-256.</summary>
public static class ApiKeySecret
{
    private const string Scheme = "lsk";

    public static string Generate()
    {
        var prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(24));
        return $"{Scheme}_{prefix}_{secret}";
    }

    public static bool TryGetPrefix(string key, out string prefix)
    {
        prefix = "";
        var parts = key.Split('_');
        if (parts.Length != 3 || parts[0] != Scheme || parts[1].Length is < 4 or > 32 || parts[2].Length < 8) return false;
        prefix = parts[1];
        return true;
    }

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static bool Matches(string key, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(key)), Encoding.ASCII.GetBytes(storedHash));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '-');
}
