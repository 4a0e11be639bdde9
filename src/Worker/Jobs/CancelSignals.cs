using System.Collections.Concurrent;
using LoraService.ServiceDefaults.Jobs;
using Npgsql;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Hears cancels the moment the API commits them (PostgreSQL LISTEN on <see cref="CancelNotifications.Channel"/>), so a running attempt is
/// told to stop within milliseconds instead of at its next heartbeat. The heartbeat still reads the status as a fallback
/// (a notification sent while this listener was reconnecting is not replayed).
/// </summary>
internal sealed class CancelSignals(NpgsqlDataSource db, ILogger<CancelSignals> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, Action> _listeners = new();

    public IDisposable Subscribe(Guid jobId, Action onCancel)
    {
        _listeners[jobId] = onCancel;
        return new Subscription(() => _listeners.TryRemove(jobId, out _));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    if (Guid.TryParse(e.Payload, out var id) && _listeners.TryGetValue(id, out var onCancel)) onCancel();
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {CancelNotifications.Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                while (!stoppingToken.IsCancellationRequested) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Cancel listener lost its connection ({Reason}); reconnecting", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
