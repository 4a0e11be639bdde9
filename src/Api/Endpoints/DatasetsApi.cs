using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Datasets;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

internal static class DatasetsApi
{
    public static IEndpointRouteBuilder MapDatasetsApi(this IEndpointRouteBuilder app)
    {
        var datasets = app.MapGroup("/api/v1/datasets").WithTags("Datasets");
        datasets.MapPost("/", Upload)
            .Accepts<DatasetUploadForm>("multipart/form-data")
            .WithSummary("Upload a JSONL dataset (multipart: file, optional name, optional format)")
            .WithDescription("Formats: text {\"text\"}, prompt_completion {\"prompt\",\"completion\"}, messages {\"messages\":[{\"role\",\"content\"}]}, " +
                "multiple_choice {\"context\",\"choices\",\"label\"}, exact_match {\"prompt\",\"answer\"}; detected from the first line unless given. " +
                "Every line is validated while the file streams to storage; a rejected upload answers 422 with line numbers and stores nothing.");
        datasets.MapGet("/", List).WithSummary("Your datasets, newest first (cursor paging)");
        datasets.MapGet("/{id:guid}", Get).WithSummary("A dataset with a preview of its first rows");
        datasets.MapDelete("/{id:guid}", Delete).WithSummary("Delete a dataset (refused while a queued or running job uses it)");
        return app;
    }

    /// <summary>The multipart form (documentation only: the body is streamed, not bound).</summary>
    public sealed record DatasetUploadForm(IFormFile File, string? Name, string? Format);

    public sealed record DatasetResponse(Guid Id, string Name, string Format, long Rows, long Bytes, string Sha256, DateTimeOffset CreatedAt, IReadOnlyList<System.Text.Json.JsonElement>? Preview)
    {
        public static DatasetResponse From(Dataset d, IReadOnlyList<System.Text.Json.JsonElement>? preview = null) =>
            new(d.Id, d.Name, d.Format, d.Rows, d.Bytes, d.Sha256, d.CreatedAt, preview);
    }

    private static async Task<Results<Created<DatasetResponse>, ProblemHttpResult>> Upload(
        HttpContext http, ClaimsPrincipal user, DatasetIntake intake, CancellationToken ct)
    {
        var (accepted, rejected) = await intake.UploadAsync(http, user.TenantId(), ct);
        if (rejected is not null)
        {
            if (rejected.Status != StatusCodes.Status422UnprocessableEntity)
                return TypedResults.Problem(statusCode: rejected.Status, title: rejected.Title, detail: rejected.Detail, extensions: rejected.Extensions);
            var problem = ApiProblems.Unprocessable(rejected.Errors, rejected.Title);
            if (rejected.TotalErrors is { } total) problem.ProblemDetails.Extensions["total_errors"] = total;
            return problem;
        }
        var dataset = accepted!.Dataset;
        return TypedResults.Created($"/api/v1/datasets/{dataset.Id}", DatasetResponse.From(dataset, accepted.Preview));
    }

    private static async Task<Results<Ok<Page<DatasetResponse>>, ValidationProblem>> List(
        ClaimsPrincipal user, LoraDbContext db, Guid? after, int? limit, CancellationToken ct)
    {
        if (CursorPage.CheckLimit(limit) is { } error)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [error] });
        var page = await CursorPage.ReadAsync(db.Datasets, user.TenantId(), after, limit, d => DatasetResponse.From(d), ct);
        return page is null
            ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["after"] = ["after must be the id of one of your datasets (next_after of the previous page)."] })
            : TypedResults.Ok(page);
    }

    private static async Task<Results<Ok<DatasetResponse>, NotFound>> Get(
        Guid id, int? preview, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, CancellationToken ct)
    {
        var dataset = await db.Datasets.AsNoTracking().SingleOrDefaultAsync(d => d.Id == id && d.TenantId == user.TenantId(), ct);
        if (dataset is null) return TypedResults.NotFound();
        var rows = new List<System.Text.Json.JsonElement>();
        using (var reader = new StreamReader(store.OpenRead(dataset.StorageKey)))
        {
            var wanted = Math.Clamp(preview ?? 5, 0, 50);
            while (rows.Count < wanted && await reader.ReadLineAsync(ct) is { } line)
                if (!string.IsNullOrWhiteSpace(line)) rows.Add(System.Text.Json.JsonDocument.Parse(line).RootElement);
        }
        return TypedResults.Ok(DatasetResponse.From(dataset, rows));
    }

    private static async Task<Results<NoContent, NotFound, Conflict<ProblemDetails>>> Delete(
        Guid id, ClaimsPrincipal user, LoraDbContext db, DatasetIntake intake, CancellationToken ct)
    {
        var dataset = await db.Datasets.SingleOrDefaultAsync(d => d.Id == id && d.TenantId == user.TenantId(), ct);
        if (dataset is null) return TypedResults.NotFound();
        var users = await intake.DeleteAsync(dataset, ct);
        if (users.Count > 0)
            return TypedResults.Conflict(new ProblemDetails
            {
                Status = 409,
                Title = "The dataset is in use.",
                Detail = $"Queued or running job(s) {string.Join(", ", users)} use this dataset; cancel them or wait until they finish.",
            });
        return TypedResults.NoContent();
    }
}
