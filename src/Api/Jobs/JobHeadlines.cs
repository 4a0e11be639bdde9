using LoraService.Contracts;
using LoraService.Contracts.Sweeps;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Jobs;

/// <summary>The headline learning and forgetting of a page of jobs, from their stored eval points in one query (no query per job).</summary>
internal static class JobHeadlines
{
    public static async Task<IReadOnlyDictionary<Guid, JobHeadlineResponse>> ReadAsync(LoraDbContext db, IReadOnlyCollection<Guid> jobIds, CancellationToken ct)
    {
        if (jobIds.Count == 0) return new Dictionary<Guid, JobHeadlineResponse>();
        // Learning and forgetting compare step 0 with the latest evaluation: only those two points of each series are read
        // (the latest through the (job, name, step) index), however often the jobs evaluated.
        var points = await db.MetricPoints.AsNoTracking()
            .Where(m => jobIds.Contains(m.JobId) && m.Name.StartsWith("eval/") &&
                (m.Step == 0 || m.Step == db.MetricPoints.Where(x => x.JobId == m.JobId && x.Name == m.Name).Max(x => x.Step)))
            .Select(m => new { m.JobId, m.Name, m.Step, m.Value })
            .ToListAsync(ct);
        var headlines = new Dictionary<Guid, JobHeadlineResponse>();
        foreach (var job in points.GroupBy(p => p.JobId))
        {
            var sides = LearningAndForgetting.From(job.Select(p => new MetricValue(p.Name, p.Step, p.Value)));
            var (learningMetric, learning) = Side(sides, MetricNames.Target, sides.Learning);
            var (forgettingMetric, forgetting) = Side(sides, MetricNames.Source, sides.Forgetting);
            if (learning is null && forgetting is null) continue;
            headlines[job.Key] = new JobHeadlineResponse(learningMetric, learning, forgettingMetric, forgetting,
                sides.Evaluations.Max(e => e.FinalStep));
        }
        return headlines;
    }

    private static (string? Metric, double? Value) Side(LearningAndForgetting sides, string role, IReadOnlyDictionary<string, double> values)
    {
        var metric = TradeOffs.DefaultMetric(values.Keys);
        if (metric is null) return (null, null);
        var evaluated = sides.Evaluations.Any(e => e.Role == role && e.Metric == metric && e.FinalStep > 0);
        return (metric, evaluated && double.IsFinite(values[metric]) ? values[metric] : null);
    }
}
