using System.Globalization;
using System.Text;
using LoraService.Contracts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.OpenAi;

/// <summary>
/// A succeeded job's result file, made from its metric points when asked for: one CSV row per step with OpenAI's columns
/// (<c>step, train_loss, valid_loss, valid_mean_token_accuracy</c>) first, then every metric by its native name. Its id is
/// the job's (<c>file-</c> + job id).
/// </summary>
internal static class OpenAiResultFile
{
    public const string FileName = "step_metrics.csv";

    public static async Task<FineTuneJob?> FindJobAsync(Guid id, Guid tenantId, LoraDbContext db, CancellationToken ct) =>
        await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == id && j.TenantId == tenantId && j.Status == JobStatus.Succeeded, ct);

    public static async Task<byte[]> CsvAsync(Guid jobId, LoraDbContext db, CancellationToken ct)
    {
        var points = await db.MetricPoints.AsNoTracking().Where(p => p.JobId == jobId).OrderBy(p => p.Step).ToListAsync(ct);
        var names = points.Select(p => p.Name).Distinct().Order(StringComparer.Ordinal).ToList();
        var csv = new StringBuilder("step,train_loss,valid_loss,valid_mean_token_accuracy");
        foreach (var name in names) csv.Append(',').Append(name);
        csv.Append('\n');
        foreach (var step in points.GroupBy(p => p.Step))
        {
            var values = step.ToDictionary(p => p.Name, p => p.Value);
            csv.Append(step.Key.ToString(CultureInfo.InvariantCulture));
            csv.Append(',').Append(Format(values.GetValueOrDefault(MetricNames.TrainLoss, double.NaN)));
            csv.Append(',').Append(Format(Validation(values, "loss")));
            csv.Append(',').Append(Format(Validation(values, "token_accuracy")));
            foreach (var name in names) csv.Append(',').Append(Format(values.GetValueOrDefault(name, double.NaN)));
            csv.Append('\n');
        }
        return Encoding.UTF8.GetBytes(csv.ToString());
    }

    public static OpenAiFile Describe(FineTuneJob job, long bytes) => new(OpenAiIds.Of(OpenAiIds.File, job.Id), "file", bytes,
        (job.FinishedAt ?? job.CreatedAt).ToUnixTimeSeconds(), FileName, OpenAiFile.FineTuneResults, "processed", null, null);

    /// <summary>The validation set's metric at a step (a job has at most one validation set).</summary>
    public static double Validation(IReadOnlyDictionary<string, double> values, string metric) =>
        values.FirstOrDefault(v => MetricNames.TryParseEval(v.Key, out var role, out _, out var m) && role == MetricNames.Validation && m == metric) is { Key: not null } hit
            ? hit.Value
            : double.NaN;

    private static string Format(double value) => double.IsNaN(value) ? "" : value.ToString("R", CultureInfo.InvariantCulture);
}
