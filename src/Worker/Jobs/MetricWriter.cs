using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.Worker.Jobs;

/// <summary>
/// Buffers metric points and writes them in one statement per batch. (job, name, step) is unique and conflicts are
/// overwritten, so points re-sent after a crash-resume (the engine repeats the steps after its last checkpoint) are neither lost nor duplicated.
/// </summary>
internal sealed class MetricWriter(IServiceScopeFactory scopes, Guid jobId)
{
    private readonly Lock _gate = new();
    private List<(string Name, int Step, double Value)> _pending = [];

    public void Add(string name, int step, double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value)) return;
        lock (_gate) _pending.Add((name, step, value));
    }

    public int Pending { get { lock (_gate) return _pending.Count; } }

    public async Task FlushAsync(CancellationToken ct = default)
    {
        List<(string Name, int Step, double Value)> batch;
        lock (_gate)
        {
            if (_pending.Count == 0) return;
            (batch, _pending) = (_pending, []);
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        await db.Database.ExecuteSqlRawAsync(
            """
            INSERT INTO metric_points (job_id, name, step, value, recorded_at)
            SELECT @job, n, s, v, now() FROM unnest(@names, @steps, @values) AS t(n, s, v)
            ON CONFLICT (job_id, name, step) DO UPDATE SET value = excluded.value
            """,
            [
                new NpgsqlParameter("job", jobId),
                new NpgsqlParameter("names", batch.Select(p => p.Name).ToArray()),
                new NpgsqlParameter("steps", batch.Select(p => p.Step).ToArray()),
                new NpgsqlParameter("values", batch.Select(p => p.Value).ToArray()),
            ], ct);
    }
}
