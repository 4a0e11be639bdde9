using LoraService.Contracts.Jobs;
using LoraService.Tokenization;
using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Jobs;
using LoraService.Api.Quotas;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using LoraService.ServiceDefaults.Jobs;
using LoraService.ServiceDefaults.Observability;
using Npgsql;

namespace LoraService.Api.Endpoints;

internal static class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/v1/jobs").WithTags("Jobs");
        jobs.MapPost("/", CreateJob)
            .WithSummary("Create a fine-tuning job")
            .WithDescription("Validates the spec against the base model and your datasets, stores it and queues it. " +
                "Send an Idempotency-Key header to make retries safe: the same key returns the same job. " +
                "With ?dry_run=true nothing is stored: the answer (200) is the resolved spec, each dataset's rows, examples, tokens, " +
                "truncated and dropped rows, the optimizer steps, and an ETA from the speed this queue's workers measured on recent jobs.");
        jobs.MapGet("/", ListJobs).WithSummary("List jobs, newest first (cursor paging, optional status filter)");
        jobs.MapGet("/{id:guid}", GetJob).WithSummary("A job with its status, progress (step, total, ETA, queue position) and error");
        jobs.MapPost("/{id:guid}/cancel", CancelJob)
            .WithSummary("Cancel a job; a running job stops within one training step")
            .WithDescription("A queued job is cancelled at once; a running one is told immediately and ends `cancelled` after its " +
                "current step or evaluation batch, keeping its last checkpoint. 409 when the job already finished.");
        jobs.MapPost("/{id:guid}/retry", RetryJob)
            .WithSummary("Retry a failed job; it resumes from its last checkpoint as a new attempt")
            .WithDescription("Only for a `failed` job (e.g. `worker_lost`, `crashed`, `out_of_memory`, `hung`); its attempt budget starts afresh. 409 otherwise.");
        jobs.MapJobDetailsApi();
        jobs.MapJobSamplesApi();
        jobs.MapJobDeletionApi();
        jobs.MapPromotionApi();
        return app;
    }

    private static async Task<Results<Created<JobResponse>, Ok<JobResponse>, Ok<JobPlanResponse>, ValidationProblem, ProblemHttpResult>> CreateJob(
        JobSpec request,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        [FromQuery(Name = "dry_run")] bool? dryRun,
        JobDryRun dryRuns,
        ClaimsPrincipal user,
        LoraDbContext db,
        JobSpecCheck check,
        JobQueue queue,
        QuotaOptions quotas,
        CancellationToken ct)
    {
        var tenantId = user.TenantId();
        if (idempotencyKey is { Length: > 200 })
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["Idempotency-Key"] = ["at most 200 characters."] });
        if (dryRun is not true && idempotencyKey is not null && await FindByIdempotencyKey(db, tenantId, idempotencyKey, ct) is { } existing)
            return TypedResults.Ok(JobResponse.From(existing));

        var (spec, errors) = await check.CheckAsync(request, tenantId, ct);
        if (spec is null)
            return ApiProblems.Unprocessable(errors, "The job spec is invalid.");
        if (dryRun is true)
            return await DryRunAsync(dryRuns, spec, tenantId, queue.Queue, ct);

        if (QuotaProblems.ForNewJob(quotas.For(tenantId), await TenantUsage.ReadAsync(db, tenantId, ct)) is { } refused)
            return refused;
        var job = JobSubmission.Add(db, tenantId, spec, idempotencyKey, queue.Queue);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (idempotencyKey is not null && e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A concurrent retry with the same key won the race: answer with its job.
            db.ChangeTracker.Clear();
            return TypedResults.Ok(JobResponse.From((await FindByIdempotencyKey(db, tenantId, idempotencyKey, ct))!));
        }

        ServiceMetrics.JobsCreated.Add(1);
        await queue.WakeAsync(db, job, ct);
        return TypedResults.Created($"/api/v1/jobs/{job.Id}", JobResponse.From(job));
    }

    private static async Task<Results<Created<JobResponse>, Ok<JobResponse>, Ok<JobPlanResponse>, ValidationProblem, ProblemHttpResult>> DryRunAsync(
        JobDryRun dryRuns, JobSpec spec, Guid tenantId, string queue, CancellationToken ct)
    {
        try
        {
            return TypedResults.Ok(await dryRuns.PlanAsync(spec, tenantId, queue, ct));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or UnknownChatTemplateException)
        {
            // The files are checked when they are read: a model without a tokenizer, a dataset whose file went away.
            return ApiProblems.Unprocessable(new Dictionary<string, string[]> { ["base_model"] = [e.Message] }, "The job cannot be planned.");
        }
    }

    private static Task<FineTuneJob?> FindByIdempotencyKey(LoraDbContext db, Guid tenantId, string key, CancellationToken ct) =>
        db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.TenantId == tenantId && j.IdempotencyKey == key, ct);

    private static async Task<Results<Ok<Page<JobResponse>>, ValidationProblem>> ListJobs(
        ClaimsPrincipal user, LoraDbContext db, string? status, Guid? after, int? limit, CancellationToken ct)
    {
        if (CursorPage.CheckLimit(limit) is { } error)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [error] });
        Func<IQueryable<FineTuneJob>, IQueryable<FineTuneJob>>? filter = null;
        if (status is not null)
        {
            if (!Enum.TryParse<JobStatus>(status, ignoreCase: true, out var wanted) || int.TryParse(status, out _))
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["status"] = [$"status must be one of {string.Join(", ", Enum.GetNames<JobStatus>().Select(n => n.ToLowerInvariant()))}."] });
            filter = jobs => jobs.Where(j => j.Status == wanted);
        }
        var page = await CursorPage.ReadAsync(db.Jobs, user.TenantId(), after, limit, j => j, ct, filter);
        if (page is null)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["after"] = ["after must be the id of one of your jobs (next_after of the previous page)."] });
        // One query for the whole page's learning and forgetting.
        var headlines = await JobHeadlines.ReadAsync(db, [.. page.Data.Select(j => j.Id)], ct);
        return TypedResults.Ok(new Page<JobResponse>(
            [.. page.Data.Select(j => JobResponse.From(j, headline: headlines.GetValueOrDefault(j.Id)))], page.HasMore, page.NextAfter));
    }

    private static async Task<Results<Ok<JobResponse>, NotFound>> GetJob(Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == id && j.TenantId == user.TenantId(), ct);
        if (job is null) return TypedResults.NotFound();
        int? position = null;
        if (job.Status == JobStatus.Queued)
            position = await db.Jobs.CountAsync(j => j.Status == JobStatus.Queued && j.Id.CompareTo(job.Id) < 0, ct);
        var headlines = await JobHeadlines.ReadAsync(db, [job.Id], ct);
        return TypedResults.Ok(JobResponse.From(job, position, headlines.GetValueOrDefault(job.Id)));
    }

    private static async Task<Results<Ok<JobResponse>, NotFound, Conflict<ProblemDetails>>> CancelJob(
        Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        var (outcome, job) = await JobCancellation.CancelAsync(id, user.TenantId(), db, ct);
        return outcome switch
        {
            CancelOutcome.NotFound => TypedResults.NotFound(),
            CancelOutcome.Finished => TypedResults.Conflict(new ProblemDetails { Title = "The job has finished.", Detail = $"The job is {job!.Status.ToString().ToLowerInvariant()}; there is nothing to cancel.", Status = 409 }),
            _ => TypedResults.Ok(JobResponse.From(job!)),
        };
    }

    private static async Task<Results<Ok<JobResponse>, NotFound, Conflict<ProblemDetails>>> RetryJob(
        Guid id, ClaimsPrincipal user, LoraDbContext db, JobQueue queue, CancellationToken ct)
    {
        var job = await db.Jobs.SingleOrDefaultAsync(j => j.Id == id && j.TenantId == user.TenantId(), ct);
        if (job is null) return TypedResults.NotFound();
        if (job.Status != JobStatus.Failed)
            return TypedResults.Conflict(new ProblemDetails
            {
                Title = "Only a failed job can be retried.",
                Detail = $"The job is {job.Status.ToString().ToLowerInvariant()}.",
                Status = 409,
            });
        var previous = (job.ErrorCode, job.ErrorMessage);
        job.Retry(DateTimeOffset.UtcNow);
        db.JobEvents.Add(JobEvent.Create(job.Id, $"Retry requested after {previous.ErrorCode}; the job resumes from its last checkpoint",
            new { error_code = previous.ErrorCode, error_message = previous.ErrorMessage }, type: "retried"));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            return TypedResults.Conflict(new ProblemDetails { Title = "The job changed meanwhile.", Detail = "Read it again and retry if it is still failed.", Status = 409 });
        }
        await queue.WakeAsync(db, job, ct);
        return TypedResults.Ok(JobResponse.From(job));
    }
}
