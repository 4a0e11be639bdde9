using System.Security.Claims;
using System.Text.Json.Nodes;
using LoraService.Api.Auth;
using LoraService.Api.Jobs;
using LoraService.Api.Sweeps;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.Domain.Sweeps;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

/// <summary>Sweeps: a base job spec and a grid of settings, expanded into jobs and compared on the learning/forgetting plane.</summary>
internal static class SweepsApi
{
    public static IEndpointRouteBuilder MapSweepsApi(this IEndpointRouteBuilder app)
    {
        var sweeps = app.MapGroup("/api/v1/sweeps").WithTags("Sweeps");
        sweeps.MapPost("/", CreateSweep)
            .WithSummary("Create a sweep: a base job spec and a grid, expanded into child jobs")
            .WithDescription("Grid keys are dotted spec paths (method, lora.rank, hyperparameters.learning_rate, ...), each with a list of " +
                "values; the children are their cartesian product, where lora.* keys collapse for method full. Without " +
                "hyperparameters.learning_rate in the grid or the base, LoRA children try 1e-4, 2e-4, 5e-4 and full ones 1e-5, 2e-5, 5e-5. " +
                "Every child is checked like POST /jobs before anything is stored (422 naming children[coordinates].field); " +
                "all are queued in one transaction (429 and nothing queued past the queued_jobs quota).");
        sweeps.MapGet("/", ListSweeps).WithSummary("List sweeps, newest first (cursor paging)");
        sweeps.MapGet("/{id:guid}", GetSweep)
            .WithSummary("A sweep's children with learning, forgetting, the Pareto front and the best job under a forgetting limit")
            .WithDescription("?metric= picks the metric of both sides (learning_metric= and forgetting_metric= one side each); " +
                "the default is the loss when the sets measure it. ?max_forgetting= limits the best job.");
        sweeps.MapPost("/{id:guid}/cancel", CancelSweep).WithSummary("Cancel every unfinished child (idempotent)");
        return app;
    }

    private static async Task<Results<Created<SweepResponse>, ProblemHttpResult>> CreateSweep(
        SweepRequest request, ClaimsPrincipal user, SweepSubmission submission, LoraDbContext db, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var created = await submission.CreateAsync(request, tenantId, ct);
        if (created.Refused is { } refused) return refused;
        if (created.Sweep is not { } sweep) return ApiProblems.Unprocessable(created.Errors, "The sweep is invalid; nothing was queued.");
        var (response, _) = await ReadAsync(db, sweep, new MetricChoice(null, null, null, null), ct);
        return TypedResults.Created($"/api/v1/sweeps/{sweep.Id}", response!);
    }

    private static async Task<Results<Ok<Page<SweepSummaryResponse>>, ValidationProblem>> ListSweeps(
        ClaimsPrincipal user, LoraDbContext db, Guid? after, int? limit, CancellationToken ct)
    {
        if (CursorPage.CheckLimit(limit) is { } error)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [error] });
        var page = await CursorPage.ReadAsync(db.Sweeps, user.TenantId(), after, limit, s => s, ct);
        if (page is null)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["after"] = ["after must be the id of one of your sweeps (next_after of the previous page)."] });
        var ids = page.Data.Select(s => s.Id).ToList();
        var counts = await (from c in db.SweepChildren
                            join j in db.Jobs on c.JobId equals j.Id
                            where ids.Contains(c.SweepId)
                            group c by new { c.SweepId, j.Status } into g
                            select new { g.Key.SweepId, g.Key.Status, Count = g.Count() }).ToListAsync(ct);
        var summaries = page.Data.Select(s =>
        {
            var statuses = counts.Where(c => c.SweepId == s.Id).ToDictionary(c => StatusName(c.Status), c => c.Count);
            return new SweepSummaryResponse(s.Id, s.Name, s.CreatedAt, statuses.Values.Sum(), statuses);
        }).ToList();
        return TypedResults.Ok(new Page<SweepSummaryResponse>(summaries, page.HasMore, page.NextAfter));
    }

    private static async Task<Results<Ok<SweepResponse>, NotFound, ProblemHttpResult>> GetSweep(
        Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct,
        [FromQuery] string? metric = null, [FromQuery(Name = "learning_metric")] string? learningMetric = null,
        [FromQuery(Name = "forgetting_metric")] string? forgettingMetric = null, [FromQuery(Name = "max_forgetting")] double? maxForgetting = null)
    {
        var sweep = await db.Sweeps.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id && s.TenantId == user.TenantId(), ct);
        if (sweep is null) return TypedResults.NotFound();
        var (response, errors) = await ReadAsync(db, sweep, new MetricChoice(metric, learningMetric, forgettingMetric, maxForgetting), ct);
        return response is null ? ApiProblems.Unprocessable(errors, "The sweep cannot be compared on that metric.") : TypedResults.Ok(response);
    }

    private static async Task<Results<Ok<SweepResponse>, NotFound>> CancelSweep(Guid id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var sweep = await db.Sweeps.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id && s.TenantId == tenantId, ct);
        if (sweep is null) return TypedResults.NotFound();
        var unfinished = await (from c in db.SweepChildren
                                join j in db.Jobs on c.JobId equals j.Id
                                where c.SweepId == id && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running)
                                orderby c.Index
                                select c.JobId).ToListAsync(ct);
        // The one cancel path: a child that finished meanwhile is left as it is.
        foreach (var jobId in unfinished) await JobCancellation.CancelAsync(jobId, tenantId, db, ct);
        db.ChangeTracker.Clear();
        var (response, _) = await ReadAsync(db, sweep, new MetricChoice(null, null, null, null), ct);
        return TypedResults.Ok(response!);
    }

    private static async Task<(SweepResponse? Response, IReadOnlyDictionary<string, string[]> Errors)> ReadAsync(
        LoraDbContext db, Sweep sweep, MetricChoice choice, CancellationToken ct)
    {
        var children = await (from c in db.SweepChildren.AsNoTracking()
                              join j in db.Jobs.AsNoTracking() on c.JobId equals j.Id
                              where c.SweepId == sweep.Id
                              orderby c.Index
                              select new { Child = c, Job = j }).ToListAsync(ct);
        var coordinates = children.ToDictionary(c => c.Job.Id, c => SweepSubmission.Coordinates(c.Child));
        var (plane, errors) = await TradeOffPlane.BuildAsync(db, [.. children.Select(c => c.Job)], choice, ct, coordinates);
        if (plane is null) return (null, errors);
        var statuses = children.GroupBy(c => c.Job.Status).ToDictionary(g => StatusName(g.Key), g => g.Count());
        return (new SweepResponse(sweep.Id, sweep.Name, sweep.CreatedAt, JsonNode.Parse(sweep.Grid), statuses,
            plane.BaseModel, plane.Metrics.Learning, plane.Metrics.Forgetting, plane.Measured, plane.MaxForgetting,
            plane.Best, plane.Front, plane.Jobs), errors);
    }

    private static string StatusName(JobStatus status) => status.ToString().ToLowerInvariant();
}
