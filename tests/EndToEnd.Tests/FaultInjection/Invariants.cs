using System.Text;
using Npgsql;

namespace LoraService.EndToEnd.Tests.FaultInjection;

/// <summary>One answer to POST /jobs/{id}/cancel, timed on this machine (the same clock as the database's).</summary>
public sealed record CancelAnswer(int StatusCode, DateTimeOffset AnsweredAt, string Body);

/// <summary>A job the schedule created: which spec, and what its cancels answered.</summary>
public sealed class TrackedJob(Guid id, int spec, int maxSteps, string origin)
{
    public Guid Id { get; } = id;
    public int Spec { get; } = spec;
    public int MaxSteps { get; } = maxSteps;
    public string Origin { get; } = origin;
    public List<CancelAnswer> Cancels { get; } = [];
}

/// <summary>
/// The invariants, read with raw SQL on the job tables (never EF entities for the lease columns, never Hangfire's tables).
/// Statuses are compared case-insensitively: the row stores the enum's name.
/// </summary>
public sealed class Invariants(string connectionString)
{
    private static readonly string[] Terminal = ["succeeded", "failed", "cancelled"];
    private const string TrainLoss = "train/loss";

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async Task<Dictionary<Guid, string>> StatusesAsync(IEnumerable<Guid> ids)
    {
        await using var connection = await OpenAsync();
        await using var query = new NpgsqlCommand("SELECT id, lower(status) FROM jobs WHERE id = ANY(@ids)", connection);
        query.Parameters.AddWithValue("ids", ids.ToArray());
        var statuses = new Dictionary<Guid, string>();
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync()) statuses[reader.GetGuid(0)] = reader.GetString(1);
        return statuses;
    }

    /// <summary>a. Polls until every job is terminal or the bound passes; returns the jobs still not terminal.</summary>
    public async Task<List<(Guid Id, string Status)>> WaitForTerminalAsync(IReadOnlyCollection<Guid> ids, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            var statuses = await StatusesAsync(ids);
            var open = ids.Select(id => (id, statuses.GetValueOrDefault(id, "missing"))).Where(s => !Terminal.Contains(s.Item2)).ToList();
            if (open.Count == 0 || DateTime.UtcNow > deadline) return open;
            await Task.Delay(500);
        }
    }

    /// <summary>Checks b, c and d for the given jobs; returns (job, violation) pairs.</summary>
    public async Task<List<(Guid Job, string Violation)>> CheckAsync(IReadOnlyList<TrackedJob> jobs, IReadOnlyDictionary<int, string> referenceSha)
    {
        var violations = new List<(Guid, string)>();
        var statuses = await StatusesAsync(jobs.Select(j => j.Id));
        await using var connection = await OpenAsync();

        // b. A cancel that answered 200 ends cancelled; one that answered 409 came for a job already finished.
        foreach (var job in jobs)
        {
            var status = statuses.GetValueOrDefault(job.Id, "missing");
            if (job.Cancels.Any(c => c.StatusCode == 200) && status != "cancelled")
                violations.Add((job.Id, $"b: a cancel answered 200 but the job ended {status}"));
            foreach (var conflict in job.Cancels.Where(c => c.StatusCode == 409))
            {
                await using var finished = new NpgsqlCommand("SELECT finished_at FROM jobs WHERE id = @id", connection);
                finished.Parameters.AddWithValue("id", job.Id);
                var at = await finished.ExecuteScalarAsync() as DateTime?;
                if (at is null || new DateTimeOffset(at.Value, TimeSpan.Zero) > conflict.AnsweredAt.AddSeconds(1))
                    violations.Add((job.Id, $"b: a cancel answered 409 at {conflict.AnsweredAt:O} but the job finished at {at?.ToString("O") ?? "never"} ({conflict.Body})"));
            }
            foreach (var other in job.Cancels.Where(c => c.StatusCode is not (200 or 409)))
                violations.Add((job.Id, $"b: a cancel answered {other.StatusCode}: {other.Body}"));
        }

        // c. Fencing: attempts do not overlap; every metric point lies inside an attempt of its job.
        var ids = jobs.Select(j => j.Id).ToArray();
        try
        {
            await using (var attempts = new NpgsqlCommand(
                """
                SELECT a.job_id, a.attempt, a.worker_id, a.started_at, a.ended_at, b.attempt, b.started_at
                FROM job_attempts a JOIN job_attempts b ON b.job_id = a.job_id AND b.attempt = a.attempt + 1
                WHERE a.job_id = ANY(@ids) AND (a.ended_at IS NULL OR a.ended_at > b.started_at)
                """, connection))
            {
                attempts.Parameters.AddWithValue("ids", ids);
                await using var reader = await attempts.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                    violations.Add((reader.GetGuid(0), $"c: attempt {reader.GetInt32(1)} on {reader.GetString(2)} (started {reader.GetDateTime(3):O}, ended {(reader.IsDBNull(4) ? "never" : reader.GetDateTime(4).ToString("O"))}) overlaps attempt {reader.GetInt32(5)} (started {reader.GetDateTime(6):O})"));
            }
            await using (var points = new NpgsqlCommand(
                """
                SELECT m.job_id, m.name, m.step, m.attempt, m.recorded_at, a.started_at, a.ended_at
                FROM metric_points m LEFT JOIN job_attempts a ON a.job_id = m.job_id AND a.attempt = m.attempt
                WHERE m.job_id = ANY(@ids)
                  AND (a.job_id IS NULL OR m.recorded_at < a.started_at OR (a.ended_at IS NOT NULL AND m.recorded_at > a.ended_at))
                ORDER BY m.job_id, m.recorded_at LIMIT 50
                """, connection))
            {
                points.Parameters.AddWithValue("ids", ids);
                await using var reader = await points.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                    violations.Add((reader.GetGuid(0), reader.IsDBNull(5)
                        ? $"c: metric {reader.GetString(1)} step {reader.GetInt32(2)} names attempt {(reader.IsDBNull(3) ? "null" : reader.GetInt32(3))}, which the job does not have"
                        : $"c: metric {reader.GetString(1)} step {reader.GetInt32(2)} of attempt {reader.GetInt32(3)} recorded at {reader.GetDateTime(4):O}, outside the attempt [{reader.GetDateTime(5):O}, {(reader.IsDBNull(6) ? "open" : reader.GetDateTime(6).ToString("O"))}]"));
            }
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedColumn)
        {
            violations.Add((Guid.Empty, $"c: fencing cannot be checked: {e.MessageText} (job_attempts and metric_points.attempt are part of the contract)"));
        }

        // d. A succeeded job has exactly one train/loss point per step 1..N and the adapter of an uninterrupted run.
        foreach (var job in jobs.Where(j => statuses.GetValueOrDefault(j.Id) == "succeeded"))
        {
            var counts = new List<(int Step, long Count)>();
            await using (var steps = new NpgsqlCommand("SELECT step, count(*) FROM metric_points WHERE job_id = @id AND name = @name GROUP BY step ORDER BY step", connection))
            {
                steps.Parameters.AddWithValue("id", job.Id);
                steps.Parameters.AddWithValue("name", TrainLoss);
                await using var reader = await steps.ExecuteReaderAsync();
                while (await reader.ReadAsync()) counts.Add((reader.GetInt32(0), reader.GetInt64(1)));
            }
            var expected = Enumerable.Range(1, job.MaxSteps).ToList();
            if (!counts.Select(c => c.Step).SequenceEqual(expected) || counts.Any(c => c.Count != 1))
                violations.Add((job.Id, $"d: train/loss steps are not exactly 1..{job.MaxSteps} once each: {Describe(counts, expected)}"));

            var hashes = new List<string>();
            await using (var adapter = new NpgsqlCommand("SELECT sha256 FROM artifacts WHERE job_id = @id AND kind = 'adapter' AND file_name = 'adapter_model.safetensors'", connection))
            {
                adapter.Parameters.AddWithValue("id", job.Id);
                await using var reader = await adapter.ExecuteReaderAsync();
                while (await reader.ReadAsync()) hashes.Add(reader.GetString(0));
            }
            if (hashes.Count != 1)
                violations.Add((job.Id, $"d: {hashes.Count} adapter_model.safetensors artifacts, expected one"));
            else if (referenceSha.TryGetValue(job.Spec, out var reference) && hashes[0] != reference)
                violations.Add((job.Id, $"d: adapter sha256 {hashes[0]} differs from the uninterrupted run of spec {job.Spec} ({reference})"));
        }
        return violations;
    }

    private static string Describe(List<(int Step, long Count)> counts, List<int> expected)
    {
        var missing = expected.Except(counts.Select(c => c.Step)).ToList();
        var extra = counts.Where(c => !expected.Contains(c.Step)).Select(c => c.Step).ToList();
        var duplicated = counts.Where(c => c.Count > 1).Select(c => $"{c.Step}×{c.Count}").ToList();
        return $"missing [{string.Join(",", missing.Take(20))}] extra [{string.Join(",", extra.Take(20))}] duplicated [{string.Join(",", duplicated.Take(20))}]";
    }

    /// <summary>The job's events, for failure messages.</summary>
    public async Task<string> EventsAsync(Guid id)
    {
        await using var connection = await OpenAsync();
        await using var query = new NpgsqlCommand("SELECT created_at, level, type, message FROM job_events WHERE job_id = @id ORDER BY created_at, id", connection);
        query.Parameters.AddWithValue("id", id);
        var text = new StringBuilder();
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            text.AppendLine($"    {reader.GetDateTime(0):HH:mm:ss.fff} {reader.GetString(1),-7} {reader.GetString(2),-16} {reader.GetString(3)}");
        return text.ToString();
    }
}
