using System.Text.Json;
using LoraService.Api.Quotas;
using LoraService.Datasets;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults.Observability;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Datasets;

/// <summary>A stored dataset with a preview of its first rows, and the multipart form's <c>purpose</c> (OpenAI's files API).</summary>
internal sealed record DatasetAccepted(Dataset Dataset, IReadOnlyList<JsonElement> Preview, string? Purpose);

/// <summary>Why an upload stored nothing: an HTTP status, a title, and (for 422) field errors with the count of line errors;
/// a quota refusal names the quota in <paramref name="Extensions"/>.</summary>
internal sealed record DatasetRejected(int Status, string Title, string? Detail, IReadOnlyDictionary<string, string[]> Errors, long? TotalErrors,
    IDictionary<string, object?>? Extensions = null);

/// <summary>
/// The one upload path of both APIs (native datasets and OpenAI files): stream the multipart file through the JSONL
/// validator into the store, then commit it and its row, or store nothing and say why.
/// </summary>
internal sealed class DatasetIntake(LoraDbContext db, IArtifactStore store, DatasetUploadOptions options, QuotaOptions quotas)
{
    public async Task<(DatasetAccepted? Accepted, DatasetRejected? Rejected)> UploadAsync(HttpContext http, Guid tenantId, CancellationToken ct)
    {
        if (!(http.Request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return (null, new DatasetRejected(415, "Send multipart/form-data with a 'file' field.", null, new Dictionary<string, string[]>(), null));
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = options.MaxUploadBytes + (1 << 20);

        var storage = await StorageQuota.LeftAsync(db, quotas, tenantId, ct);
        if (storage is { Left: <= 0 }) return (null, storage.Rejection());
        var id = Guid.CreateVersion7();
        var key = $"datasets/{tenantId:N}/{id:N}.jsonl";
        UploadOutcome upload;
        try
        {
            upload = await new DatasetUploader(store, options).ReadAsync(http.Request, key, Math.Min(options.MaxUploadBytes, storage?.Left ?? long.MaxValue), ct);
        }
        catch (UploadTooLargeException e) when (storage is not null && e.Limit == storage.Left && storage.Left < options.MaxUploadBytes)
        {
            return (null, storage.Rejection());
        }
        catch (UploadTooLargeException e)
        {
            return (null, new DatasetRejected(413, "The dataset is too large.", e.Message, new Dictionary<string, string[]>(), null));
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            return (null, new DatasetRejected(400, "The upload could not be read.", e.Message, new Dictionary<string, string[]>(), null));
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
            return (null, new DatasetRejected(422, "The dataset was rejected; nothing was stored.", null, errors, validation?.TotalErrorCount));
        }

        var dataset = new Dataset
        {
            Id = id, TenantId = tenantId, StorageKey = key, Format = format.ToWireName(),
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
        return (new DatasetAccepted(dataset, validation.Preview.Select(p => JsonDocument.Parse(p).RootElement).ToList(), upload.Purpose), null);
    }

    /// <summary>Deletes the dataset unless queued or running jobs use it; those jobs' ids, or none when it was deleted.</summary>
    public async Task<IReadOnlyList<Guid>> DeleteAsync(Dataset dataset, CancellationToken ct)
    {
        var active = new[] { nameof(JobStatus.Queued), nameof(JobStatus.Running), nameof(JobStatus.Cancelling) };
        var pattern = $"%{dataset.Id}%";
        var users = await db.Database
            .SqlQuery<Guid>($"SELECT id AS \"Value\" FROM jobs WHERE tenant_id = {dataset.TenantId} AND status = ANY({active}) AND spec::text LIKE {pattern}")
            .ToListAsync(ct);
        if (users.Count > 0) return users;
        db.Datasets.Remove(dataset);
        await db.SaveChangesAsync(ct);
        store.Delete(dataset.StorageKey);
        return [];
    }
}
