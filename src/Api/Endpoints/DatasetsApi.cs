using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Datasets;
using LoraService.Api.Quotas;
using LoraService.Datasets;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Observability;
using Microsoft.AspNetCore.Http.Features;
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
        HttpContext http, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, DatasetUploadOptions options, QuotaOptions quotas, CancellationToken ct)
    {
        if (!(http.Request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return TypedResults.Problem(statusCode: 415, title: "Send multipart/form-data with a 'file' field.");
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = options.MaxUploadBytes + (1 << 20);

        var storage = await StorageQuota.LeftAsync(db, quotas, user.TenantId(), ct);
        if (storage is { Left: <= 0 }) return storage.Refuse();
        var dataset = new Dataset { TenantId = user.TenantId(), Name = "", Format = "", Sha256 = "", StorageKey = "" };
        var key = $"datasets/{dataset.TenantId:N}/{dataset.Id:N}.jsonl";
        UploadOutcome upload;
        try
        {
            upload = await new DatasetUploader(store, options).ReadAsync(http.Request, key, Math.Min(options.MaxUploadBytes, storage?.Left ?? long.MaxValue), ct);
        }
        catch (UploadTooLargeException e) when (storage is not null && e.Limit == storage.Left && storage.Left < options.MaxUploadBytes)
        {
            return storage.Refuse();
        }
        catch (UploadTooLargeException e)
        {
            return TypedResults.Problem(statusCode: 413, title: "The dataset is too large.", detail: e.Message);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            return TypedResults.Problem(statusCode: 400, title: "The upload could not be read.", detail: e.Message);
        }

        var errors = upload.Errors;
        var validation = upload.Validation;
        if (validation is not null && !validation.IsValid)
            errors["file"] = [.. validation.Errors.Select(e => e.ToString()),
                .. validation.TotalErrorCount > validation.Errors.Count ? [$"... and {validation.TotalErrorCount - validation.Errors.Count} more errors"] : Array.Empty<string>()];
        else if (validation is not null && upload.RequestedFormat is { } requested && validation.Format != requested)
            errors["format"] = [$"format is {requested.ToWireName()} but the file's rows are {validation.Format?.ToWireName()}."];
        if (errors.Count > 0 || validation?.Format is not { } format)
        {
            if (validation is not null) ServiceMetrics.ValidationErrors.Add(validation.TotalErrorCount);
            if (upload.TempPath is not null) File.Delete(upload.TempPath);
            var problem = ApiProblems.Unprocessable(errors, "The dataset was rejected; nothing was stored.");
            if (validation is not null) problem.ProblemDetails.Extensions["total_errors"] = validation.TotalErrorCount;
            return problem;
        }

        dataset = new Dataset
        {
            Id = dataset.Id, TenantId = dataset.TenantId, StorageKey = key, Format = format.ToWireName(),
            Name = string.IsNullOrWhiteSpace(upload.Name) ? Path.GetFileNameWithoutExtension(upload.FileName ?? "dataset") : upload.Name!,
            Rows = validation.RowCount, Bytes = validation.ByteCount, Sha256 = validation.Sha256,
        };
        store.Commit(upload.TempPath!, key);
        ServiceMetrics.UploadBytes.Add(dataset.Bytes);
        try
        {
            db.Datasets.Add(dataset);
            await db.SaveChangesAsync(ct);
        }
        catch
        {
            store.Delete(key);
            throw;
        }
        return TypedResults.Created($"/api/v1/datasets/{dataset.Id}",
            DatasetResponse.From(dataset, validation.Preview.Select(p => System.Text.Json.JsonDocument.Parse(p).RootElement).ToList()));
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
        Guid id, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, CancellationToken ct)
    {
        var dataset = await db.Datasets.SingleOrDefaultAsync(d => d.Id == id && d.TenantId == user.TenantId(), ct);
        if (dataset is null) return TypedResults.NotFound();
        var active = new[] { nameof(JobStatus.Queued), nameof(JobStatus.Running), nameof(JobStatus.Cancelling) };
        var pattern = $"%{id}%";
        var users = await db.Database
            .SqlQuery<Guid>($"SELECT id AS \"Value\" FROM jobs WHERE tenant_id = {dataset.TenantId} AND status = ANY({active}) AND spec::text LIKE {pattern}")
            .ToListAsync(ct);
        if (users.Count > 0)
            return TypedResults.Conflict(new ProblemDetails
            {
                Status = 409,
                Title = "The dataset is in use.",
                Detail = $"Queued or running job(s) {string.Join(", ", users)} use this dataset; cancel them or wait until they finish.",
            });
        db.Datasets.Remove(dataset);
        await db.SaveChangesAsync(ct);
        store.Delete(dataset.StorageKey);
        return TypedResults.NoContent();
    }
}
