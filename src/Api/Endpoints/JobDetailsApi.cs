using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Jobs;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace LoraService.Api.Endpoints;

/// <summary>What a job produced as it ran: events, metric series, checkpoints, summary, artifacts.</summary>
internal static class JobDetailsApi
{
    public static RouteGroupBuilder MapJobDetailsApi(this RouteGroupBuilder jobs)
    {
        jobs.MapGet("/{id:guid}/events", GetEvents).WithSummary("Lifecycle and warning events after an event id");
        jobs.MapGet("/{id:guid}/metrics", GetMetrics)
            .WithSummary("Metric points after a step, as columns per metric (cheap to poll)")
            .WithDescription("Poll with after=<last_step> to get only new points. names=train/loss,eval/... filters. " +
                "Names: train/loss, train/lr, train/grad_norm, train/tokens_per_s, train/tokens_seen, " +
                "eval/{target|source|validation}/{dataset id}/{loss|perplexity|token_accuracy|acc|acc_norm|exact_match}. Step 0 is the base model.");
        jobs.MapGet("/{id:guid}/checkpoints", GetCheckpoints).WithSummary("Resumable checkpoints with the metrics at their step");
        jobs.MapGet("/{id:guid}/summary", GetSummary)
            .WithSummary("Baseline vs final for every eval set, learning (target sets) and forgetting (source sets)");
        jobs.MapGet("/{id:guid}/artifacts", GetArtifacts).WithSummary("Files the job produced (adapter, merged model, metrics, summary, spectral report)");
        return jobs;
    }

    public sealed record EventResponse(long Id, DateTimeOffset CreatedAt, string Level, string Type, string Message, System.Text.Json.JsonElement? Data);

    public sealed record MetricSeries(IReadOnlyList<int> Steps, IReadOnlyList<double> Values);

    public sealed record MetricsResponse(Guid JobId, int? After, int? LastStep, IReadOnlyDictionary<string, MetricSeries> Series);

    public sealed record CheckpointResponse(Guid Id, int Step, long Bytes, System.Text.Json.JsonElement? Metrics, DateTimeOffset CreatedAt);

    public sealed record ArtifactResponse(Guid Id, string Kind, string FileName, string ContentType, long Bytes, string? Sha256, DateTimeOffset CreatedAt, string DownloadUrl);

    private static async Task<Results<Ok<IReadOnlyList<EventResponse>>, NotFound>> GetEvents(
        Guid id, long? after, int? limit, ClaimsPrincipal user, LoraDbContext db, IMemoryCache cache, CancellationToken ct)
    {
        if (!await JobOwnership.IsOwnedAsync(id, user, db, cache, ct)) return TypedResults.NotFound();
        var from = after ?? 0;
        var rows = await db.JobEvents.AsNoTracking().Where(e => e.JobId == id && e.Id > from)
            .OrderBy(e => e.Id).Take(Math.Clamp(limit ?? 200, 1, 1000)).ToListAsync(ct);
        return TypedResults.Ok<IReadOnlyList<EventResponse>>(rows.Select(e => new EventResponse(
            e.Id, e.CreatedAt, e.Level, e.Type, e.Message,
            e.Data is null ? null : System.Text.Json.JsonDocument.Parse(e.Data).RootElement)).ToList());
    }

    private static async Task<Results<Ok<MetricsResponse>, NotFound>> GetMetrics(
        Guid id, int? after, string? names, ClaimsPrincipal user, LoraDbContext db, IMemoryCache cache, MetricsReader metrics, CancellationToken ct)
    {
        if (!await JobOwnership.IsOwnedAsync(id, user, db, cache, ct)) return TypedResults.NotFound();
        var wanted = string.IsNullOrWhiteSpace(names) ? null : names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return TypedResults.Ok(await metrics.ReadAsync(id, after, wanted, ct));
    }

    private static async Task<Results<Ok<IReadOnlyList<CheckpointResponse>>, NotFound>> GetCheckpoints(
        Guid id, ClaimsPrincipal user, LoraDbContext db, IMemoryCache cache, CancellationToken ct)
    {
        if (!await JobOwnership.IsOwnedAsync(id, user, db, cache, ct)) return TypedResults.NotFound();
        var rows = await db.Checkpoints.AsNoTracking().Where(c => c.JobId == id).OrderBy(c => c.Step).ToListAsync(ct);
        return TypedResults.Ok<IReadOnlyList<CheckpointResponse>>(rows.Select(c => new CheckpointResponse(
            c.Id, c.Step, c.Bytes, c.Metrics is null ? null : System.Text.Json.JsonDocument.Parse(c.Metrics).RootElement, c.CreatedAt)).ToList());
    }

    private static async Task<Results<Ok<JobSummaryResponse>, NotFound>> GetSummary(
        Guid id, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, CancellationToken ct)
    {
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == id && j.TenantId == user.TenantId(), ct);
        if (job is null) return TypedResults.NotFound();
        var points = await db.MetricPoints.AsNoTracking().Where(m => m.JobId == id).ToListAsync(ct);
        var summary = JobSummary.FromMetrics(points);
        var datasetIds = summary.Evaluations.Select(e => e.Dataset).Distinct().ToList();
        var datasetNames = await db.Datasets.AsNoTracking().Where(d => datasetIds.Contains(d.Id)).ToDictionaryAsync(d => d.Id, d => d.Name, ct);
        var files = await db.Artifacts.AsNoTracking().Where(a => a.JobId == id && (a.Kind == "spectral" || a.Kind == "summary")).ToListAsync(ct);
        var spectralFile = files.FirstOrDefault(a => a.Kind == "spectral");
        var written = await ReadSummaryFileAsync(store, files.FirstOrDefault(a => a.Kind == "summary"), ct);
        System.Text.Json.JsonElement? spectral = written is { } w && w.TryGetProperty("spectral", out var s) ? s : null;
        return TypedResults.Ok(new JobSummaryResponse(job.Id, job.Status, summary, datasetNames, spectral,
            spectralFile is null ? null : $"/api/v1/artifacts/{spectralFile.Id}/content",
            await JobProvenance.ReadAsync(job, written, db, store, ct)));
    }

    /// <summary>The run's summary.json (present once the job succeeded).</summary>
    private static async Task<System.Text.Json.JsonElement?> ReadSummaryFileAsync(IArtifactStore store, Domain.Artifacts.Artifact? summaryFile, CancellationToken ct)
    {
        if (summaryFile is null || !store.Exists(summaryFile.StorageKey)) return null;
        await using var stream = store.OpenRead(summaryFile.StorageKey);
        using var document = await System.Text.Json.JsonDocument.ParseAsync(stream, cancellationToken: ct);
        return document.RootElement.Clone();
    }

    /// <param name="JobId">The job.</param>
    /// <param name="Status">Its status; the summary grows as evaluations arrive.</param>
    /// <param name="Summary">Baseline (step 0) vs latest value per eval set and metric; learning (target sets) and forgetting (source sets).</param>
    /// <param name="DatasetNames">Names of the eval sets by id.</param>
    /// <param name="Spectral">Per module name: layers, mean rank90 (smallest k whose top-k singular values hold 90% of ‖ΔW‖²) and mean ‖ΔW‖; null until the job succeeded.</param>
    /// <param name="SpectralReportUrl">Download of spectral.json with every module and layer.</param>
    /// <param name="Provenance">What produced the result: the resolved spec (<c>job</c>), the SHA-256 of each dataset and of the
    /// base model's weights (<c>base_model.weights_sha256</c>, null until the first attempt started) and the engine version
    /// (null until the job succeeded).</param>
    public sealed record JobSummaryResponse(Guid JobId, JobStatus Status, JobSummary Summary, IReadOnlyDictionary<Guid, string> DatasetNames,
        System.Text.Json.JsonElement? Spectral, string? SpectralReportUrl, System.Text.Json.Nodes.JsonNode Provenance);

    private static async Task<Results<Ok<IReadOnlyList<ArtifactResponse>>, NotFound>> GetArtifacts(
        Guid id, ClaimsPrincipal user, LoraDbContext db, IMemoryCache cache, CancellationToken ct)
    {
        if (!await JobOwnership.IsOwnedAsync(id, user, db, cache, ct)) return TypedResults.NotFound();
        var rows = await db.Artifacts.AsNoTracking().Where(a => a.JobId == id).OrderBy(a => a.Kind).ThenBy(a => a.FileName).ToListAsync(ct);
        return TypedResults.Ok<IReadOnlyList<ArtifactResponse>>(rows.Select(a => new ArtifactResponse(
            a.Id, a.Kind, a.FileName, a.ContentType, a.Bytes, a.Sha256, a.CreatedAt, $"/api/v1/artifacts/{a.Id}/content")).ToList());
    }
}
