using System.Text.Json;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.Worker.Jobs;

/// <summary>
/// While a job trains: every interval, flushes metric points, writes progress and the heartbeat, and reads the status
/// back so a cancel requested through the API stops training after the current step.
/// </summary>
internal sealed class JobHeartbeat : IAsyncDisposable
{
    private readonly IServiceScopeFactory _scopes;
    private readonly Guid _jobId;
    private readonly MetricWriter _metrics;
    private readonly CancellationTokenSource _cancelRequested = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly Task _loop;
    private JobProgress? _progress;

    public JobHeartbeat(IServiceScopeFactory scopes, Guid jobId, MetricWriter metrics, TimeSpan interval, ILogger logger)
    {
        (_scopes, _jobId, _metrics, _logger) = (scopes, jobId, metrics, logger);
        _loop = Task.Run(() => LoopAsync(interval));
    }

    /// <summary>Fires when the job's row says cancelling.</summary>
    public CancellationToken CancelRequested => _cancelRequested.Token;

    public void Report(JobProgress progress) => Volatile.Write(ref _progress, progress);

    private async Task LoopAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
                await BeatAsync(_stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
    }

    public async Task BeatAsync(CancellationToken ct)
    {
        try
        {
            await _metrics.FlushAsync(ct);
            await using var scope = _scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
            var progress = Volatile.Read(ref _progress);
            var status = await db.Database.SqlQueryRaw<string>(
                """
                UPDATE jobs SET heartbeat_at = now(), progress = COALESCE(@progress::jsonb, progress)
                WHERE id = @id RETURNING status AS "Value"
                """,
                new NpgsqlParameter("id", _jobId),
                new NpgsqlParameter("progress", progress is null ? DBNull.Value : JsonSerializer.Serialize(progress, JsonSerializerOptions.Web)))
                .ToListAsync(ct);
            if (status.FirstOrDefault() is nameof(JobStatus.Cancelling) or nameof(JobStatus.Cancelled))
                await _cancelRequested.CancelAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A missed beat is not fatal; the next one retries. A long outage makes the job look stale to other workers.
            _logger.LogWarning("Heartbeat for job {JobId} failed: {Reason}", _jobId, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _cancelRequested.Dispose();
    }
}
