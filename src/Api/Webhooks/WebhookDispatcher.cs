using LoraService.Api.Observability;
using LoraService.Domain.Webhooks;

namespace LoraService.Api.Webhooks;

/// <summary>
/// Delivers webhooks from the API process (never from a training worker's queue): fans out new outbox rows, claims due
/// deliveries and sends up to <see cref="WebhookOptions.Concurrency"/> at once, each recording its own result. It wakes
/// on NOTIFY webhook_events, when a send finishes, and every <see cref="WebhookOptions.PollSeconds"/> for retries that
/// came due.
/// </summary>
internal sealed class WebhookDispatcher(
    WebhookFanOut fanOut, WebhookDeliveryStore store, WebhookSender sender, WebhookSignal signal, WebhookOptions options,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private readonly SemaphoreSlim _slots = new(Math.Max(options.Concurrency, 1));
    private readonly List<Task> _inFlight = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string? lastFailure = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                busy = await fanOut.RunOnceAsync(stoppingToken) == WebhookFanOut.Batch;
                busy |= await StartDueAsync(stoppingToken);
                lastFailure = null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be restarting or not migrated yet; say so once, not every poll.
                if (e.Message != lastFailure) logger.LogWarning("Webhook dispatch failed: {Reason}", e.Message);
                lastFailure = e.Message;
            }
            if (!busy)
            {
                try { await signal.WaitAsync(options.Poll, stoppingToken); }
                catch (OperationCanceledException) { break; }
            }
        }
        Task[] running;
        lock (_inFlight) running = [.. _inFlight];
        // In-flight sends end within their timeout; a send cut short is sent again when its lease ends.
        await Task.WhenAny(Task.WhenAll(running), Task.Delay(options.Timeout + TimeSpan.FromSeconds(1), CancellationToken.None));
    }

    /// <summary>Claims as many due deliveries as there are free slots and starts sending them; true when every slot got one (more may be due).</summary>
    private async Task<bool> StartDueAsync(CancellationToken ct)
    {
        var free = _slots.CurrentCount;
        if (free == 0) return false;
        var claimed = await store.ClaimAsync(Math.Min(free, options.BatchSize), ct);
        foreach (var delivery in claimed)
        {
            await _slots.WaitAsync(ct);
            var task = Task.Run(() => DeliverAsync(delivery, ct), CancellationToken.None);
            lock (_inFlight) _inFlight.Add(task);
            _ = task.ContinueWith(t =>
            {
                lock (_inFlight) _inFlight.Remove(t);
                _slots.Release();
                signal.Set();
            }, TaskScheduler.Default);
        }
        return claimed.Count > 0 && claimed.Count == free;
    }

    private async Task DeliverAsync(ClaimedDelivery delivery, CancellationToken ct)
    {
        try
        {
            var attempt = await sender.SendAsync(delivery.Url, delivery.Secret, WebhookPayloads.EventId(delivery.EventId), delivery.Payload, ct);
            WebhookMetrics.Attempts.Add(1, new KeyValuePair<string, object?>("outcome", Outcome(attempt)));
            WebhookMetrics.Duration.Record(attempt.LatencyMs / 1000.0);
            var (status, disabled) = await store.RecordAsync(delivery, attempt, CancellationToken.None);
            if (status == WebhookDeliveryStatus.Failed)
            {
                WebhookMetrics.GaveUp.Add(1);
                logger.LogWarning("Webhook delivery {Delivery} to {Url} failed for the whole retry window; last: {Error}", delivery.Id, delivery.Url, attempt.Error);
            }
            if (disabled)
            {
                WebhookMetrics.Disabled.Add(1);
                logger.LogWarning("Webhook endpoint {Endpoint} ({Url}) disabled: every delivery failed for {Window}", delivery.EndpointId, delivery.Url, options.DisableAfter);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Recording failed (database away): the lease runs out and the delivery is sent again.
            logger.LogWarning("Webhook delivery {Delivery}: {Reason}; it is retried when its lease ends", delivery.Id, e.Message);
        }
        catch (OperationCanceledException)
        {
            // Shutting down mid-send: the lease runs out and another instance (or this one, restarted) sends it again.
        }
    }

    private static string Outcome(WebhookAttempt attempt) => attempt switch
    {
        { Succeeded: true } => "succeeded",
        { StatusCode: not null } => "http_error",
        { Error: { } e } when e.StartsWith("timed out", StringComparison.Ordinal) => "timeout",
        { Error: { } e } when e.StartsWith("refused", StringComparison.Ordinal) => "refused",
        _ => "connection_error",
    };
}
