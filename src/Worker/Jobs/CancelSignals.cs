using System.Collections.Concurrent;
using LoraService.ServiceDefaults.Jobs;
using LoraService.ServiceDefaults.Notifications;
using Npgsql;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Hears cancels the moment the API commits them (PostgreSQL LISTEN on <see cref="CancelNotifications.Channel"/>), so a running attempt is
/// told to stop within milliseconds instead of at its next heartbeat. The heartbeat still reads the status as a fallback
/// (a notification sent while this listener was reconnecting is not replayed).
/// </summary>
internal sealed class CancelSignals(NpgsqlDataSource db, ILogger<CancelSignals> logger) : PostgresListener(db, logger)
{
    private readonly ConcurrentDictionary<Guid, Action> _listeners = new();

    protected override string Channel => CancelNotifications.Channel;

    public IDisposable Subscribe(Guid jobId, Action onCancel)
    {
        _listeners[jobId] = onCancel;
        return new Subscription(() => _listeners.TryRemove(jobId, out _));
    }

    protected override void OnNotification(string payload)
    {
        if (Guid.TryParse(payload, out var id) && _listeners.TryGetValue(id, out var onCancel)) onCancel();
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
