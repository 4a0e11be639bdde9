using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Notifications;
using Npgsql;

namespace LoraService.Api.Auth;

/// <summary>
/// A revoked key is announced on a PostgreSQL channel; every API instance LISTENs and drops it from its
/// <see cref="ApiKeyCache"/>, so the key answers 401 everywhere within milliseconds.
/// </summary>
internal sealed class ApiKeyRevocations(NpgsqlDataSource db, ApiKeyCache cache, ILogger<ApiKeyRevocations> logger) : PostgresListener(db, logger)
{
    public const string ChannelName = "api_key_revoked";

    protected override string Channel => ChannelName;

    public static Task NotifyAsync(LoraDbContext db, Guid keyId, CancellationToken ct) => PgNotify.SendAsync(db, ChannelName, keyId.ToString(), ct);

    protected override void OnNotification(string payload)
    {
        if (Guid.TryParse(payload, out var keyId)) cache.Evict(keyId);
    }

    // Revocations sent while this instance was not listening are unknown: start from an empty cache.
    protected override void OnListening() => cache.Clear();
}
