using LoraService.Contracts.Attempts;
using System.Text.Json;
using LoraService.Domain.Jobs;
using LoraService.Domain.Webhooks;
using Npgsql;
using NpgsqlTypes;

namespace LoraService.Worker.Jobs;

/// <summary>What a renewal found: still ours, ours with a cancel requested, or gone to someone else.</summary>
internal enum LeaseState { Held, CancelRequested, Lost }

/// <summary>
/// This worker's lease on one attempt of a job, and every write the attempt makes. Each statement is fenced: it lands
/// only while the row still names this worker and this attempt (the fencing token) and the job is held, and it locks
/// the row while it writes, so a reaper's takeover and a stale worker's write can never interleave.
/// </summary>
internal sealed class JobLease(NpgsqlDataSource db, Guid jobId, Guid tenantId, int attempt, string worker)
{
    private const string Holds =
        "SELECT id FROM jobs WHERE id = @job AND attempt = @attempt AND worker_id = @worker AND status IN ('Running', 'Cancelling') FOR SHARE";

    public Guid JobId => jobId;
    public Guid TenantId => tenantId;
    public int Attempt => attempt;
    public string Worker => worker;

    /// <summary>Extends the lease by <paramref name="lease"/> from the database's clock and stores the latest progress.</summary>
    public async Task<LeaseState> RenewAsync(TimeSpan lease, JobProgress? progress, CancellationToken ct)
    {
        await using var command = Command(
            """
            UPDATE jobs SET heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => @lease),
                progress = COALESCE(@progress, progress)
            WHERE id = @job AND attempt = @attempt AND worker_id = @worker AND status IN ('Running', 'Cancelling')
            RETURNING status
            """);
        command.Parameters.AddWithValue("lease", lease.TotalSeconds);
        command.Parameters.Add(new NpgsqlParameter("progress", NpgsqlDbType.Jsonb)
        {
            Value = progress is null ? DBNull.Value : JsonSerializer.Serialize(progress, JsonSerializerOptions.Web),
        });
        return await command.ExecuteScalarAsync(ct) switch
        {
            null => LeaseState.Lost,
            nameof(JobStatus.Cancelling) => LeaseState.CancelRequested,
            _ => LeaseState.Held,
        };
    }

    /// <summary>
    /// Upserts metric points keyed by (job, name, step): a resumed step overwrites, never duplicates. With
    /// <paramref name="evaluatedSteps"/>, the same statement writes a <c>job.evaluated</c> webhook outbox row per step, so
    /// an event is never sent for points that were not stored (nor lost when they were).
    /// </summary>
    public async Task<bool> WriteMetricsAsync(IReadOnlyList<(string Name, int Step, double Value)> batch, CancellationToken ct,
        IReadOnlyList<int>? evaluatedSteps = null)
    {
        if (batch.Count == 0 && evaluatedSteps is not { Count: > 0 }) return true;
        const string upsert =
            """
            INSERT INTO metric_points (job_id, name, step, value, attempt, recorded_at)
            SELECT @job, n, s, v, @attempt, now() FROM unnest(@names, @steps, @values) AS t(n, s, v)
            WHERE EXISTS (SELECT 1 FROM lease)
            ON CONFLICT (job_id, name, step) DO UPDATE SET value = excluded.value, attempt = excluded.attempt, recorded_at = excluded.recorded_at
            """;
        await using var command = Command(evaluatedSteps is { Count: > 0 }
            ? $"""
              WITH lease AS ({Holds}), points AS ({upsert})
              INSERT INTO webhook_events (id, tenant_id, job_id, type, job_status, details, created_at)
              SELECT e.id, j.tenant_id, j.id, '{WebhookEventTypes.Evaluated}', j.status, jsonb_build_object('step', e.step), now()
              FROM lease JOIN jobs j ON j.id = lease.id CROSS JOIN unnest(@event_ids, @event_steps) AS e(id, step)
              """
            : $"WITH lease AS ({Holds}) {upsert}");
        command.Parameters.AddWithValue("names", batch.Select(p => p.Name).ToArray());
        command.Parameters.AddWithValue("steps", batch.Select(p => p.Step).ToArray());
        command.Parameters.AddWithValue("values", batch.Select(p => p.Value).ToArray());
        if (evaluatedSteps is { Count: > 0 })
        {
            command.Parameters.AddWithValue("event_ids", evaluatedSteps.Select(_ => Guid.CreateVersion7()).ToArray());
            command.Parameters.AddWithValue("event_steps", evaluatedSteps.ToArray());
        }
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Upserts one evaluation's samples keyed by (job, step, role, dataset, index): a repeated evaluation overwrites.</summary>
    public async Task<bool> WriteSamplesAsync(int step, IReadOnlyList<AttemptSetSamples> sets, CancellationToken ct = default)
    {
        var rows = sets.SelectMany(set => set.Samples.Select((sample, index) => (Set: set, Sample: sample, Index: index))).ToList();
        if (rows.Count == 0) return true;
        await using var command = Command(
            $"""
            WITH lease AS ({Holds})
            INSERT INTO evaluation_samples (job_id, step, role, dataset_id, dataset_name, index, prompt, output, expected, correct, attempt, recorded_at)
            SELECT @job, @step, r, d, n, i, p, o, e, c, @attempt, now()
            FROM unnest(@roles, @datasets, @names, @indexes, @prompts, @outputs, @expected, @correct) AS t(r, d, n, i, p, o, e, c)
            WHERE EXISTS (SELECT 1 FROM lease)
            ON CONFLICT (job_id, step, role, dataset_id, index) DO UPDATE SET dataset_name = excluded.dataset_name, prompt = excluded.prompt,
                output = excluded.output, expected = excluded.expected, correct = excluded.correct, attempt = excluded.attempt,
                recorded_at = excluded.recorded_at
            """);
        command.Parameters.AddWithValue("step", step);
        command.Parameters.AddWithValue("roles", rows.Select(r => r.Set.Role).ToArray());
        command.Parameters.AddWithValue("datasets", rows.Select(r => r.Set.DatasetId).ToArray());
        command.Parameters.AddWithValue("names", rows.Select(r => Clip(r.Set.Name, 200)).ToArray());
        command.Parameters.AddWithValue("indexes", rows.Select(r => r.Index).ToArray());
        command.Parameters.AddWithValue("prompts", rows.Select(r => Text(r.Sample.Prompt)).ToArray());
        command.Parameters.AddWithValue("outputs", rows.Select(r => Text(r.Sample.Output)).ToArray());
        command.Parameters.AddWithValue("expected", rows.Select(r => Text(r.Sample.Expected)).ToArray());
        command.Parameters.AddWithValue("correct", rows.Select(r => r.Sample.Correct).ToArray());
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>PostgreSQL text holds no NUL character; a generation may.</summary>
    private static string Text(string value) => value.Replace("\0", "\uFFFD", StringComparison.Ordinal);

    private static string Clip(string value, int length) => value.Length <= length ? value : value[..length];

    /// <summary>A timeline event; with <paramref name="webhook"/>, also that webhook's outbox row (details: the event's data), in the same statement.</summary>
    public async Task<bool> AddEventAsync(string level, string message, object? data = null, string type = "message", CancellationToken ct = default,
        string? webhook = null)
    {
        await using var command = Command(webhook is null
            ? $"""
              WITH lease AS ({Holds})
              INSERT INTO job_events (job_id, created_at, level, type, message, data)
              SELECT @job, now(), @level, @type, @message, @data FROM lease
              """
            : $"""
              WITH lease AS ({Holds}),
              timeline AS (
                  INSERT INTO job_events (job_id, created_at, level, type, message, data)
                  SELECT @job, now(), @level, @type, @message, @data FROM lease)
              INSERT INTO webhook_events (id, tenant_id, job_id, type, job_status, details, created_at)
              SELECT @event_id, j.tenant_id, j.id, @webhook, j.status, COALESCE(@data, jsonb_build_object()) || jsonb_build_object('message', @message), now()
              FROM lease JOIN jobs j ON j.id = lease.id
              """);
        AddEventParameters(command, level, type, message, data);
        if (webhook is not null)
        {
            command.Parameters.AddWithValue("webhook", webhook);
            command.Parameters.AddWithValue("event_id", Guid.CreateVersion7());
        }
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>
    /// Records a complete checkpoint folder (relative storage key) with the metrics at its step and an event, and forgets
    /// the rows of checkpoints the engine pruned from disk (<paramref name="onDisk"/>: the keys still there).
    /// </summary>
    public async Task<bool> AddCheckpointAsync(int step, string storageKey, long bytes, IReadOnlyDictionary<string, double> metrics,
        IReadOnlyList<string> onDisk, CancellationToken ct)
    {
        await using var command = Command(
            $"""
            WITH lease AS ({Holds}),
            saved AS (
                INSERT INTO checkpoints (id, job_id, step, storage_key, bytes, metrics, created_at)
                SELECT @id, @job, @step, @key, @bytes, @metrics, now() FROM lease
                ON CONFLICT (job_id, step) DO UPDATE SET storage_key = excluded.storage_key, bytes = excluded.bytes,
                    metrics = excluded.metrics, created_at = excluded.created_at
                RETURNING step),
            pruned AS (
                DELETE FROM checkpoints WHERE job_id = @job AND step <> @step AND NOT (storage_key = ANY(@on_disk)) AND EXISTS (SELECT 1 FROM saved))
            INSERT INTO job_events (job_id, created_at, level, type, message, data)
            SELECT @job, now(), @level, @type, @message, @data FROM saved
            """);
        command.Parameters.AddWithValue("id", Guid.CreateVersion7());
        command.Parameters.AddWithValue("step", step);
        command.Parameters.AddWithValue("key", storageKey);
        command.Parameters.AddWithValue("bytes", bytes);
        command.Parameters.Add(new NpgsqlParameter("metrics", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(metrics) });
        command.Parameters.AddWithValue("on_disk", onDisk.ToArray());
        AddEventParameters(command, "info", "checkpoint", $"Checkpoint at step {step}", new { step, bytes });
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    private NpgsqlCommand Command(string sql)
    {
        var command = db.CreateCommand(sql);
        command.Parameters.AddWithValue("job", jobId);
        command.Parameters.AddWithValue("attempt", attempt);
        command.Parameters.AddWithValue("worker", worker);
        return command;
    }

    private static void AddEventParameters(NpgsqlCommand command, string level, string type, string message, object? data)
    {
        command.Parameters.AddWithValue("level", level);
        command.Parameters.AddWithValue("type", type);
        command.Parameters.AddWithValue("message", message);
        command.Parameters.Add(new NpgsqlParameter("data", NpgsqlDbType.Jsonb)
        {
            Value = data is null ? DBNull.Value : JsonSerializer.Serialize(data, JsonSerializerOptions.Web),
        });
    }
}
