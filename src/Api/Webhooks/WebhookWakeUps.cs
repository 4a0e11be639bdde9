using System.Threading.Channels;
using LoraService.Domain.Webhooks;
using LoraService.ServiceDefaults.Notifications;
using Npgsql;

namespace LoraService.Api.Webhooks;

/// <summary>A latch the dispatcher waits on: set by NOTIFY webhook_events (a trigger sends it when outbox rows commit), a redelivery, or a finished send.</summary>
internal sealed class WebhookSignal
{
    private readonly Channel<bool> _latch = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Set() => _latch.Writer.TryWrite(true);

    /// <summary>Returns when set or after <paramref name="timeout"/>.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timer.CancelAfter(timeout);
        try { await _latch.Reader.WaitToReadAsync(timer.Token); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        _latch.Reader.TryRead(out _);
    }
}

/// <summary>LISTENs on <c>webhook_events</c> and wakes this instance's dispatcher.</summary>
internal sealed class WebhookWakeUps(NpgsqlDataSource db, WebhookSignal signal, ILogger<WebhookWakeUps> logger) : PostgresListener(db, logger)
{
    protected override string Channel => WebhookOutbox.Channel;

    protected override void OnNotification(string payload) => signal.Set();

    // Whatever was written while this instance was not listening is picked up now.
    protected override void OnListening() => signal.Set();
}
