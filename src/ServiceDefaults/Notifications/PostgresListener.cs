using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LoraService.ServiceDefaults.Notifications;

/// <summary>
/// LISTENs on one PostgreSQL channel for as long as the host runs, reconnecting after a lost connection. A notification
/// sent while it was reconnecting is not replayed: <see cref="OnListening"/> runs each time listening (re)starts, so a
/// subclass can make up for what it may have missed.
/// </summary>
public abstract class PostgresListener(NpgsqlDataSource db, ILogger logger) : BackgroundService
{
    protected abstract string Channel { get; }

    protected abstract void OnNotification(string payload);

    protected virtual void OnListening() { }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => OnNotification(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                OnListening();
                while (!stoppingToken.IsCancellationRequested) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Listener on {Channel} lost its connection ({Reason}); reconnecting", Channel, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
