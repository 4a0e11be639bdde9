using System.Collections.Concurrent;

namespace LoraService.Api.Auth;

internal sealed record VerifiedKey(Guid KeyId, Guid TenantId, bool IsAdmin);

/// <summary>
/// Verified keys by hash, for a few seconds: polling must not cost a database round trip per request. A revocation
/// evicts its key at once on every instance (<see cref="ApiKeyRevocations"/>); the short lifetime bounds the damage of a
/// notification lost while the listener reconnected, and an expiring key is never kept past its expiry.
/// </summary>
internal sealed class ApiKeyCache(TimeProvider clock)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, (VerifiedKey Key, DateTimeOffset Until)> _byHash = new();

    public VerifiedKey? Get(string hash)
    {
        if (!_byHash.TryGetValue(hash, out var entry)) return null;
        if (entry.Until > clock.GetUtcNow()) return entry.Key;
        _byHash.TryRemove(KeyValuePair.Create(hash, entry));
        return null;
    }

    public void Set(string hash, VerifiedKey key, DateTimeOffset? expiresAt)
    {
        var until = clock.GetUtcNow() + CacheFor;
        _byHash[hash] = (key, expiresAt is { } expires && expires < until ? expires : until);
    }

    public void Evict(Guid keyId)
    {
        foreach (var entry in _byHash)
            if (entry.Value.Key.KeyId == keyId) _byHash.TryRemove(entry);
    }

    public void Clear() => _byHash.Clear();
}
