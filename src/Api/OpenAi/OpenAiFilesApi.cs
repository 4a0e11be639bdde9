using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Datasets;
using LoraService.Api.Endpoints;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.OpenAi;

/// <summary>OpenAI's files API over this service's datasets (same rows, same upload validator) and jobs' result files.</summary>
internal static class OpenAiFilesApi
{
    public static RouteGroupBuilder MapOpenAiFilesApi(this RouteGroupBuilder v1)
    {
        var files = v1.MapGroup("/files").WithTags("OpenAI-compatible: files");
        files.MapPost("/", Upload)
            .Accepts<UploadForm>("multipart/form-data")
            .Produces<OpenAiFile>()
            .WithSummary("Upload a JSONL training file (multipart: file, purpose=fine-tune)")
            .WithDescription("OpenAI's chat format ({\"messages\": [...]}) and prompt/completion lines, and every other dataset format of " +
                "POST /api/v1/datasets (evaluation sets too). Validated line by line while it streams; a rejected file is a 400 whose " +
                "message lists the line numbers, and nothing is stored. The file is the dataset the native API shows (lora_service.dataset_id).");
        files.MapGet("/", List).Produces<OpenAiList<OpenAiFile>>().WithSummary("Your files, newest first (after, limit, purpose)");
        files.MapGet("/{id}", Get).Produces<OpenAiFile>().WithSummary("A file: a dataset, or a succeeded job's result file");
        files.MapGet("/{id}/content", Content).WithSummary("A file's content: the JSONL as uploaded, or a result file's step-metrics CSV");
        files.MapDelete("/{id}", Delete).Produces<OpenAiDeleted>().WithSummary("Delete a file (409 while a queued or running job uses it)");
        return v1;
    }

    /// <summary>The multipart form (documentation only: the body is streamed, not bound).</summary>
    public sealed record UploadForm(IFormFile File, string Purpose);

    private static async Task<IResult> Upload(HttpContext http, ClaimsPrincipal user, DatasetIntake intake, CancellationToken ct)
    {
        var (accepted, rejected) = await intake.UploadAsync(http, user.TenantId(), ct);
        if (rejected is not null)
        {
            var field = rejected.Errors.Keys.FirstOrDefault();
            var message = field is null
                ? $"{rejected.Title} {rejected.Detail}".Trim()
                : $"{rejected.Title} " + string.Join(" ", rejected.Errors.SelectMany(e => e.Value));
            return OpenAiErrors.Result(rejected.Status == StatusCodes.Status422UnprocessableEntity ? 400 : rejected.Status, message, field ?? "file",
                rejected.Status == StatusCodes.Status422UnprocessableEntity ? "invalid_file" : null);
        }
        if (accepted!.Purpose != OpenAiFile.FineTune)
        {
            // Validated and stored before the purpose is known (it may come after the file); undo it.
            await intake.DeleteAsync(accepted.Dataset, ct);
            return OpenAiErrors.BadRequest($"purpose must be '{OpenAiFile.FineTune}' (got '{accepted.Purpose}').", "purpose");
        }
        return TypedResults.Ok(OpenAiFile.From(accepted.Dataset));
    }

    private static async Task<IResult> List(ClaimsPrincipal user, LoraDbContext db, string? after, int? limit, string? purpose, string? order, CancellationToken ct)
    {
        if (limit is < 1 or > 100) return OpenAiErrors.BadRequest("limit must be between 1 and 100.", "limit");
        if (order is not (null or "desc")) return OpenAiErrors.BadRequest("order: only 'desc' (newest first) is supported.", "order");
        Guid? cursor = null;
        if (after is not null)
        {
            if (!OpenAiIds.TryParse(after, OpenAiIds.File, out var id)) return OpenAiErrors.BadRequest("after must be a file id.", "after");
            cursor = id;
        }
        if (purpose is not (null or OpenAiFile.FineTune))
            return TypedResults.Ok(new OpenAiList<OpenAiFile>([], false, null, null));
        var page = await CursorPage.ReadAsync(db.Datasets, user.TenantId(), cursor, limit ?? 100, OpenAiFile.From, ct);
        if (page is null) return OpenAiErrors.BadRequest("after must be the id of one of your files.", "after");
        return TypedResults.Ok(new OpenAiList<OpenAiFile>(page.Data, page.HasMore, page.Data.FirstOrDefault()?.Id, page.Data.LastOrDefault()?.Id));
    }

    private static async Task<IResult> Get(string id, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct)
    {
        if (!OpenAiIds.TryParse(id, OpenAiIds.File, out var guid)) return OpenAiErrors.NotFound("file", id, "id");
        var dataset = await db.Datasets.AsNoTracking().SingleOrDefaultAsync(d => d.Id == guid && d.TenantId == user.TenantId(), ct);
        if (dataset is not null) return TypedResults.Ok(OpenAiFile.From(dataset));
        var job = await OpenAiResultFile.FindJobAsync(guid, user.TenantId(), db, ct);
        if (job is null) return OpenAiErrors.NotFound("file", id, "id");
        return TypedResults.Ok(OpenAiResultFile.Describe(job, (await OpenAiResultFile.CsvAsync(job.Id, db, ct)).LongLength));
    }

    private static async Task<IResult> Content(string id, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, CancellationToken ct)
    {
        if (!OpenAiIds.TryParse(id, OpenAiIds.File, out var guid)) return OpenAiErrors.NotFound("file", id, "id");
        var dataset = await db.Datasets.AsNoTracking().SingleOrDefaultAsync(d => d.Id == guid && d.TenantId == user.TenantId(), ct);
        if (dataset is not null)
            return TypedResults.Stream(store.OpenRead(dataset.StorageKey), "application/jsonl", OpenAiFile.From(dataset).Filename);
        var job = await OpenAiResultFile.FindJobAsync(guid, user.TenantId(), db, ct);
        if (job is null) return OpenAiErrors.NotFound("file", id, "id");
        return TypedResults.File(await OpenAiResultFile.CsvAsync(job.Id, db, ct), "text/csv", OpenAiResultFile.FileName);
    }

    private static async Task<IResult> Delete(string id, ClaimsPrincipal user, LoraDbContext db, DatasetIntake intake, CancellationToken ct)
    {
        if (!OpenAiIds.TryParse(id, OpenAiIds.File, out var guid)) return OpenAiErrors.NotFound("file", id, "id");
        var dataset = await db.Datasets.SingleOrDefaultAsync(d => d.Id == guid && d.TenantId == user.TenantId(), ct);
        if (dataset is null)
            return await OpenAiResultFile.FindJobAsync(guid, user.TenantId(), db, ct) is null
                ? OpenAiErrors.NotFound("file", id, "id")
                : OpenAiErrors.BadRequest("A result file is part of its job and cannot be deleted on its own.", "id", "result_file");
        var users = await intake.DeleteAsync(dataset, ct);
        if (users.Count > 0)
            return OpenAiErrors.Result(StatusCodes.Status409Conflict,
                $"The file is used by queued or running job(s) {string.Join(", ", users.Select(u => OpenAiIds.Of(OpenAiIds.Job, u)))}; cancel them or wait until they finish.", "id");
        return TypedResults.Ok(new OpenAiDeleted(OpenAiIds.Of(OpenAiIds.File, guid), "file", true));
    }
}
