using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.ServiceDefaults.Jobs;

/// <summary>The PostgreSQL channel on which an accepted cancel is announced; workers LISTEN on it (CancelSignals).</summary>
public static class CancelNotifications
{
    public const string Channel = "job_cancel";

    public static Task NotifyAsync(LoraDbContext db, Guid jobId, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync($"SELECT pg_notify('{Channel}', {{0}})", [jobId.ToString()], ct);
}
