using LoraService.Api.Endpoints;
using Microsoft.Extensions.Caching.Memory;
using Npgsql;
using NpgsqlTypes;

namespace LoraService.Api.Jobs;

/// <summary>
/// The dashboard's hot path: metric points after a step, as columns per metric. Plain SQL on the (job, step) index, and
/// identical polls within Metrics:CacheMilliseconds share one answer, so many watchers of one job cost one query.
/// </summary>
internal sealed class MetricsReader(NpgsqlDataSource dataSource, IMemoryCache cache, IConfiguration configuration)
{
    /// <summary>Metrics:CacheMilliseconds (default 500; 0 turns the shared answer off).</summary>
    private readonly TimeSpan CacheFor = TimeSpan.FromMilliseconds(configuration.GetValue("Metrics:CacheMilliseconds", 500.0));

    public async Task<JobDetailsApi.MetricsResponse> ReadAsync(Guid jobId, int? after, string[]? names, CancellationToken ct)
    {
        var key = $"metrics:{jobId}:{after}:{(names is null ? "*" : string.Join(',', names))}";
        if (CacheFor > TimeSpan.Zero && cache.TryGetValue(key, out JobDetailsApi.MetricsResponse? cached)) return cached!;

        await using var command = dataSource.CreateCommand(names is null
            ? "SELECT name, step, value FROM metric_points WHERE job_id = $1 AND step > $2 ORDER BY step, name"
            : "SELECT name, step, value FROM metric_points WHERE job_id = $1 AND step > $2 AND name = ANY($3) ORDER BY step, name");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = jobId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = after ?? -1 });
        if (names is not null) command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = names, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });

        var steps = new Dictionary<string, (List<int> Steps, List<double> Values)>();
        int? last = after;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var name = reader.GetString(0);
                if (!steps.TryGetValue(name, out var series)) steps[name] = series = ([], []);
                var step = reader.GetInt32(1);
                series.Steps.Add(step);
                series.Values.Add(reader.GetDouble(2));
                last = step;
            }
        }
        var response = new JobDetailsApi.MetricsResponse(jobId, after, last,
            steps.ToDictionary(s => s.Key, s => new JobDetailsApi.MetricSeries(s.Value.Steps, s.Value.Values)));
        if (CacheFor > TimeSpan.Zero) cache.Set(key, response, CacheFor);
        return response;
    }
}
