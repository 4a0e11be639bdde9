using System.Security.Claims;
using System.Text.Json;
using LoraService.Api.Auth;
using LoraService.Api.Jobs;
using LoraService.Contracts;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace LoraService.Api.OpenAi;

/// <summary>A job's events and checkpoints as OpenAI lists them: newest first, <c>after</c> = the last id seen.</summary>
internal static class OpenAiJobDetailsApi
{
    public static RouteGroupBuilder MapOpenAiJobDetailsApi(this RouteGroupBuilder jobs)
    {
        jobs.MapGet("/{id}/events", Events).Produces<OpenAiList<OpenAiEvent>>().WithSummary("The job's events, newest first (after, limit)");
        jobs.MapGet("/{id}/checkpoints", Checkpoints).Produces<OpenAiList<OpenAiCheckpoint>>()
            .WithSummary("The job's kept checkpoints, newest first, with step_number and metrics (after, limit)");
        return jobs;
    }

    private static async Task<IResult> Events(string id, string? after, int? limit, ClaimsPrincipal user, LoraDbContext db, IMemoryCache cache, CancellationToken ct)
    {
        if (!OpenAiIds.TryParse(id, OpenAiIds.Job, out var jobId) || !await JobOwnership.IsOwnedAsync(jobId, user, db, cache, ct))
            return OpenAiErrors.NotFound("fine-tuning job", id, "fine_tuning_job_id");
        if (limit is < 1 or > 100) return OpenAiErrors.BadRequest("limit must be between 1 and 100.", "limit");
        long? before = null;
        if (after is not null)
        {
            if (!OpenAiIds.TryParseEvent(after, out var eventId)) return OpenAiErrors.BadRequest("after must be an event id.", "after");
            before = eventId;
        }
        var take = limit ?? 20;
        var rows = await db.JobEvents.AsNoTracking().Where(e => e.JobId == jobId && (before == null || e.Id < before))
            .OrderByDescending(e => e.Id).Take(take + 1).ToListAsync(ct);
        var data = rows.Take(take).Select(e => new OpenAiEvent(OpenAiIds.Event + e.Id, e.CreatedAt.ToUnixTimeSeconds(),
            e.Level == "warning" ? "warn" : e.Level, e.Message, "message",
            e.Data is null ? null : JsonDocument.Parse(e.Data).RootElement, e.Type)).ToList();
        return TypedResults.Ok(new OpenAiList<OpenAiEvent>(data, rows.Count > take, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id));
    }

    private static async Task<IResult> Checkpoints(string id, string? after, int? limit, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (!OpenAiIds.TryParse(id, OpenAiIds.Job, out var jobId)) return OpenAiErrors.NotFound("fine-tuning job", id, "fine_tuning_job_id");
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId && j.TenantId == user.TenantId(), ct);
        if (job is null) return OpenAiErrors.NotFound("fine-tuning job", id, "fine_tuning_job_id");
        if (limit is < 1 or > 100) return OpenAiErrors.BadRequest("limit must be between 1 and 100.", "limit");
        int? belowStep = null;
        if (after is not null)
        {
            if (!OpenAiIds.TryParse(after, OpenAiIds.Checkpoint, out var checkpointId)
                || await db.Checkpoints.AsNoTracking().Where(c => c.Id == checkpointId && c.JobId == jobId).Select(c => (int?)c.Step).SingleOrDefaultAsync(ct) is not { } step)
                return OpenAiErrors.BadRequest("after must be the id of one of this job's checkpoints.", "after");
            belowStep = step;
        }
        var take = limit ?? 10;
        var rows = await db.Checkpoints.AsNoTracking().Where(c => c.JobId == jobId && (belowStep == null || c.Step < belowStep))
            .OrderByDescending(c => c.Step).Take(take + 1).ToListAsync(ct);
        var model = OpenAiJob.ModelName(job, await OpenAiJobsApi.OrganizationAsync(db, job.TenantId, ct));
        var data = rows.Take(take).Select(c =>
        {
            var metrics = c.Metrics is null ? new Dictionary<string, double>() : JsonSerializer.Deserialize<Dictionary<string, double>>(c.Metrics)!;
            return new OpenAiCheckpoint(OpenAiIds.Of(OpenAiIds.Checkpoint, c.Id), c.CreatedAt.ToUnixTimeSeconds(), $"{model}:ckpt-step-{c.Step}", c.Step,
                OpenAiCheckpointMetrics.From(c.Step, metrics), OpenAiIds.Of(OpenAiIds.Job, jobId));
        }).ToList();
        return TypedResults.Ok(new OpenAiList<OpenAiCheckpoint>(data, rows.Count > take, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id));
    }
}

/// <remarks>LoraServiceType: The native event type (created, checkpoint, succeeded, failed, cancelled, handed_back, ...).</remarks>
public sealed record OpenAiEvent(string Id, long CreatedAt, string Level, string Message, string Type, JsonElement? Data, string LoraServiceType)
{
    public string Object => "fine_tuning.job.event";
}

public sealed record OpenAiCheckpoint(string Id, long CreatedAt, string FineTunedModelCheckpoint, int StepNumber, OpenAiCheckpointMetrics Metrics, string FineTuningJobId)
{
    public string Object => "fine_tuning.job.checkpoint";
}

/// <remarks>LoraService: Every metric at the checkpoint's step by its native name (train/..., eval/{target|source|validation}/...).</remarks>
public sealed record OpenAiCheckpointMetrics(int Step, double? TrainLoss, double? ValidLoss, double? ValidMeanTokenAccuracy,
    double? FullValidLoss, double? FullValidMeanTokenAccuracy, IReadOnlyDictionary<string, double> LoraService)
{
    /// <summary>The validation set is evaluated whole (up to evaluation.max_examples), so valid_* and full_valid_* agree.</summary>
    public static OpenAiCheckpointMetrics From(int step, IReadOnlyDictionary<string, double> metrics)
    {
        double? Of(double value) => double.IsNaN(value) ? null : value;
        var validLoss = Of(OpenAiResultFile.Validation(metrics, "loss"));
        var validAccuracy = Of(OpenAiResultFile.Validation(metrics, "token_accuracy"));
        return new(step, metrics.TryGetValue(MetricNames.TrainLoss, out var loss) ? loss : null, validLoss, validAccuracy, validLoss, validAccuracy, metrics);
    }
}
