using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Notifications;

namespace LoraService.ServiceDefaults.Jobs;

/// <summary>The PostgreSQL channel on which an accepted cancel is announced; workers LISTEN on it (CancelSignals).</summary>
public static class CancelNotifications
{
    public const string Channel = "job_cancel";

    public static Task NotifyAsync(LoraDbContext db, Guid jobId, CancellationToken ct) => PgNotify.SendAsync(db, Channel, jobId.ToString(), ct);
}
