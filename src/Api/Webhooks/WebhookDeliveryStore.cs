using LoraService.Domain.Webhooks;
using Npgsql;

namespace LoraService.Api.Webhooks;

/// <summary>A delivery a dispatcher claimed, with what it needs to send it.</summary>
internal sealed record ClaimedDelivery(Guid Id, Guid EndpointId, Guid EventId, int Attempts, DateTimeOffset CreatedAt, string Url, string Secret, string Payload);

/// <summary>
/// The delivery rows as the dispatcher reads and writes them (plain SQL on the hot path). A claim is a lease
/// (<c>lease_until</c>) taken with SKIP LOCKED: instances never send the same row at once, and a row whose sender died
/// comes due again when its lease ends.
/// </summary>
internal sealed class WebhookDeliveryStore(NpgsqlDataSource db, WebhookOptions options)
{
    public async Task<IReadOnlyList<ClaimedDelivery>> ClaimAsync(int limit, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            """
            WITH due AS (
                SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())
                  AND e.disabled_at IS NULL
                ORDER BY d.next_attempt_at LIMIT @limit
                FOR UPDATE OF d SKIP LOCKED),
            claimed AS (
                UPDATE webhook_deliveries d SET lease_until = now() + make_interval(secs => @lease)
                FROM due WHERE d.id = due.id
                RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.created_at)
            SELECT c.id, c.endpoint_id, c.event_id, c.attempts, c.created_at, e.url, e.secret, ev.payload
            FROM claimed c JOIN webhook_endpoints e ON e.id = c.endpoint_id JOIN webhook_events ev ON ev.id = c.event_id
            """);
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("lease", options.Lease.TotalSeconds);
        var claimed = new List<ClaimedDelivery>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            claimed.Add(new ClaimedDelivery(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetInt32(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.GetString(6), reader.GetString(7)));
        return claimed;
    }

    /// <summary>
    /// Records an attempt: succeeded, or pending again after a backoff, or failed once the retry window is spent. The
    /// endpoint's failing streak starts or ends with it; an endpoint failing for longer than the window is disabled, its
    /// pending deliveries abandoned and a notice added to its log. Returns the delivery's status and whether the
    /// endpoint was disabled.
    /// </summary>
    public async Task<(string Status, bool Disabled)> RecordAsync(ClaimedDelivery delivery, WebhookAttempt attempt, CancellationToken ct)
    {
        var attempts = delivery.Attempts + 1;
        var now = DateTimeOffset.UtcNow;
        var retryAt = now + WebhookBackoff.After(attempts, options);
        var status = attempt.Succeeded ? WebhookDeliveryStatus.Succeeded
            : retryAt - delivery.CreatedAt > options.RetryFor ? WebhookDeliveryStatus.Failed
            : WebhookDeliveryStatus.Pending;

        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var update = new NpgsqlCommand(
            """
            UPDATE webhook_deliveries SET status = @status, attempts = @attempts, next_attempt_at = @next, lease_until = NULL,
                last_attempt_at = @now, last_status_code = @code, last_latency_ms = @latency, last_error = @error, response_prefix = @prefix
            WHERE id = @id AND status = 'pending'
            """, connection, transaction))
        {
            update.Parameters.AddWithValue("id", delivery.Id);
            update.Parameters.AddWithValue("status", status);
            update.Parameters.AddWithValue("attempts", attempts);
            update.Parameters.AddWithValue("next", status == WebhookDeliveryStatus.Pending ? retryAt : DBNull.Value);
            update.Parameters.AddWithValue("now", now);
            update.Parameters.AddWithValue("code", attempt.StatusCode is { } code ? code : DBNull.Value);
            update.Parameters.AddWithValue("latency", attempt.LatencyMs);
            update.Parameters.AddWithValue("error", attempt.Error is { } error ? error : DBNull.Value);
            update.Parameters.AddWithValue("prefix", attempt.ResponsePrefix is { } prefix ? prefix : DBNull.Value);
            await update.ExecuteNonQueryAsync(ct);
        }

        var disabled = false;
        if (attempt.Succeeded)
        {
            await using var clear = new NpgsqlCommand("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = @id AND failing_since IS NOT NULL", connection, transaction);
            clear.Parameters.AddWithValue("id", delivery.EndpointId);
            await clear.ExecuteNonQueryAsync(ct);
        }
        else
        {
            await using var fail = new NpgsqlCommand(
                """
                WITH streak AS (
                    -- One UPDATE: a statement must not modify the same row twice. SET reads the row's old values.
                    UPDATE webhook_endpoints SET
                        failing_since = COALESCE(failing_since, @now),
                        disabled_at = CASE WHEN disabled_at IS NULL AND failing_since < @now - make_interval(secs => @window) THEN @now ELSE disabled_at END,
                        disabled_reason = CASE WHEN disabled_at IS NULL AND failing_since < @now - make_interval(secs => @window)
                            THEN 'Every delivery failed since ' || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                            ELSE disabled_reason END
                    WHERE id = @id
                    RETURNING id, disabled_at, disabled_reason),
                disabled AS (SELECT id, disabled_reason FROM streak WHERE disabled_at = @now),
                abandoned AS (
                    UPDATE webhook_deliveries d SET status = 'abandoned', next_attempt_at = NULL, lease_until = NULL
                    FROM disabled WHERE d.endpoint_id = disabled.id AND d.status = 'pending')
                INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, attempts, created_at, last_error)
                SELECT @notice, id, NULL, 'webhook.endpoint_disabled', 'notice', 0, @now,
                    'Endpoint disabled: ' || disabled_reason || ' (window ' || @window_text || '); its pending deliveries were abandoned. POST /api/v1/webhooks/' || id || '/enable turns it back on.'
                FROM disabled
                """, connection, transaction);
            fail.Parameters.AddWithValue("id", delivery.EndpointId);
            fail.Parameters.AddWithValue("now", now);
            fail.Parameters.AddWithValue("window", options.DisableAfter.TotalSeconds);
            fail.Parameters.AddWithValue("window_text", Describe(options.DisableAfter));
            fail.Parameters.AddWithValue("notice", Guid.CreateVersion7());
            disabled = await fail.ExecuteNonQueryAsync(ct) > 0;
        }
        await transaction.CommitAsync(ct);
        return (status, disabled);
    }

    private static string Describe(TimeSpan window) =>
        window.TotalDays >= 1 ? FormattableString.Invariant($"{window.TotalDays:0.##} days")
        : window.TotalHours >= 1 ? FormattableString.Invariant($"{window.TotalHours:0.##} hours")
        : FormattableString.Invariant($"{window.TotalSeconds:0.##} s");
}
