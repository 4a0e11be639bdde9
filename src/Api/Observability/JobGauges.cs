using System.Diagnostics.Metrics;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Observability;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Observability;

/// <summary>
/// Jobs by status and queued jobs per queue, read from PostgreSQL every <c>Metrics:JobsPollSeconds</c> (a scrape never
/// waits on the database). Every API instance reports the same totals: aggregate with max, not sum.
/// </summary>
internal sealed class JobGauges(IServiceScopeFactory scopes, IConfiguration configuration, ILogger<JobGauges> logger) : BackgroundService
{
    private static volatile IReadOnlyList<(string Status, string Queue, long Count)> _counts = [];

    static JobGauges()
    {
        ServiceMetrics.Gauge("lora.jobs", "{job}", "Jobs by status", () =>
            _counts.GroupBy(c => c.Status).Select(g => new Measurement<long>(g.Sum(c => c.Count), new KeyValuePair<string, object?>("status", g.Key))));
        ServiceMetrics.Gauge("lora.queue.depth", "{job}", "Queued jobs per queue", () =>
            _counts.Where(c => c.Status == "queued").Select(c => new Measurement<long>(c.Count, new KeyValuePair<string, object?>("queue", c.Queue))));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(configuration.GetValue("Metrics:JobsPollSeconds", 5.0)));
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
                var rows = await db.Jobs.GroupBy(j => new { j.Status, j.Queue }).Select(g => new { g.Key.Status, g.Key.Queue, Count = g.LongCount() }).ToListAsync(stoppingToken);
                var counts = rows.Select(r => (r.Status.ToString().ToLowerInvariant(), r.Queue, r.Count)).ToList();
                // Every status is reported, 0 included, so a rate or an alert never sees a series vanish.
                counts.AddRange(Enum.GetValues<JobStatus>().Select(s => s.ToString().ToLowerInvariant())
                    .Where(s => counts.All(c => c.Item1 != s)).Select(s => (s, "", 0L)));
                _counts = counts;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Job gauges could not be read: {Reason}", e.Message);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
