using LoraService.Api.Quotas;
using LoraService.ServiceDefaults.Observability;
using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Endpoints;
using LoraService.Api.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.OpenAi;

/// <summary>OpenAI's fine-tuning jobs API over this service's jobs: the same rows the native API and the dashboard show.</summary>
internal static class OpenAiJobsApi
{
    public static RouteGroupBuilder MapOpenAiJobsApi(this RouteGroupBuilder v1)
    {
        var jobs = v1.MapGroup("/fine_tuning/jobs").WithTags("OpenAI-compatible: fine-tuning");
        jobs.MapPost("/", Create)
            .Produces<OpenAiJob>()
            .WithSummary("Create a fine-tuning job (OpenAI's request, plus the optional lora_service extension)")
            .WithDescription("method.supervised.hyperparameters (or the older top-level hyperparameters): n_epochs, batch_size, " +
                "learning_rate_multiplier (× the method's default learning rate), each \"auto\" or a number. The request becomes the " +
                "native job spec and is checked by the same rules as POST /api/v1/jobs. lora_service: {method, lora, evaluation, " +
                "hyperparameters, checkpoint_every, keep_checkpoints, export_merged, max_attempts, max_wall_time, tags} as in the native spec.");
        jobs.MapGet("/", List).Produces<OpenAiList<OpenAiJob>>().WithSummary("Your jobs, newest first (after, limit; has_more)");
        jobs.MapGet("/{id}", Get).Produces<OpenAiJob>().WithSummary("A job, with learning and forgetting so far under lora_service");
        jobs.MapPost("/{id}/cancel", Cancel).Produces<OpenAiJob>().WithSummary("Cancel a job (409 once it finished)");
        jobs.MapOpenAiJobDetailsApi();
        return v1;
    }

    private static async Task<IResult> Create(OpenAiJobRequest request, ClaimsPrincipal user, LoraDbContext db, JobSpecCheck check, JobQueue queue,
        QuotaOptions quotas, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var (spec, param, error) = OpenAiJobMapping.ToSpec(request);
        if (spec is null) return OpenAiErrors.BadRequest(error!, param);
        var (resolved, errors) = await check.CheckAsync(spec, tenantId, ct);
        if (resolved is null)
            return OpenAiErrors.BadRequest(string.Join(" ", errors.SelectMany(e => e.Value)), OpenAiJobMapping.ParamOf(errors.Keys.First(), request));

        // The same quotas as the native API; the problem becomes OpenAI's error shape under /v1.
        if (QuotaProblems.ForNewJob(quotas.For(tenantId), await TenantUsage.ReadAsync(db, tenantId, ct)) is { } refused)
            return refused;
        var job = JobSubmission.Add(db, tenantId, resolved, idempotencyKey: null, queue.Queue);
        await db.SaveChangesAsync(ct);
        ServiceMetrics.JobsCreated.Add(1);
        await queue.WakeAsync(db, job, ct);
        return TypedResults.Ok(OpenAiJob.From(job, await OrganizationAsync(db, tenantId, ct)));
    }

    private static async Task<IResult> List(ClaimsPrincipal user, LoraDbContext db, string? after, int? limit, CancellationToken ct)
    {
        if (CursorPage.CheckLimit(limit) is { } problem) return OpenAiErrors.BadRequest(problem, "limit");
        Guid? cursor = null;
        if (after is not null)
        {
            if (!OpenAiIds.TryParse(after, OpenAiIds.Job, out var id)) return OpenAiErrors.BadRequest("after must be a fine-tuning job id.", "after");
            cursor = id;
        }
        var organization = await OrganizationAsync(db, user.TenantId(), ct);
        var page = await CursorPage.ReadAsync(db.Jobs, user.TenantId(), cursor, limit, j => OpenAiJob.From(j, organization), ct);
        if (page is null) return OpenAiErrors.BadRequest("after must be the id of one of your jobs.", "after");
        return TypedResults.Ok(new OpenAiList<OpenAiJob>(page.Data, page.HasMore, page.Data.FirstOrDefault()?.Id, page.Data.LastOrDefault()?.Id));
    }

    private static async Task<IResult> Get(string id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (!OpenAiIds.TryParse(id, OpenAiIds.Job, out var jobId)) return OpenAiErrors.NotFound("fine-tuning job", id, "fine_tuning_job_id");
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId && j.TenantId == user.TenantId(), ct);
        if (job is null) return OpenAiErrors.NotFound("fine-tuning job", id, "fine_tuning_job_id");
        var points = await db.MetricPoints.AsNoTracking().Where(m => m.JobId == jobId).ToListAsync(ct);
        return TypedResults.Ok(OpenAiJob.From(job, await OrganizationAsync(db, job.TenantId, ct), JobSummary.FromMetrics(points)));
    }

    private static async Task<IResult> Cancel(string id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (!OpenAiIds.TryParse(id, OpenAiIds.Job, out var jobId)) return OpenAiErrors.NotFound("fine-tuning job", id, "fine_tuning_job_id");
        var (outcome, job) = await JobCancellation.CancelAsync(jobId, user.TenantId(), db, ct);
        return outcome switch
        {
            CancelOutcome.NotFound => OpenAiErrors.NotFound("fine-tuning job", id, "fine_tuning_job_id"),
            CancelOutcome.Finished => OpenAiErrors.Result(StatusCodes.Status409Conflict,
                $"The job has already {OpenAiJob.StatusOf(job!.Status)}; there is nothing to cancel.", "fine_tuning_job_id", "job_finished"),
            _ => TypedResults.Ok(OpenAiJob.From(job!, await OrganizationAsync(db, job!.TenantId, ct))),
        };
    }

    public static async Task<string> OrganizationAsync(LoraDbContext db, Guid tenantId, CancellationToken ct) =>
        await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId).Select(t => t.Name).SingleOrDefaultAsync(ct) ?? tenantId.ToString("N");
}
