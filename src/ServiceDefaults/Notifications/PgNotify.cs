using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.ServiceDefaults.Notifications;

/// <summary>Sends a notification that every <see cref="PostgresListener"/> on the channel receives.</summary>
public static class PgNotify
{
    public static Task SendAsync(LoraDbContext db, string channel, string payload, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync("SELECT pg_notify({0}, {1})", [channel, payload], ct);
}
