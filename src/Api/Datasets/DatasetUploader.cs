using LoraService.Datasets;
using LoraService.Domain.Artifacts;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace LoraService.Api.Datasets;

/// <summary>The outcome of reading a multipart upload: a validated file parked under a temp key, or what was wrong.</summary>
internal sealed record UploadOutcome(
    string? TempPath, string? FileName, string? Name, DatasetFormat? RequestedFormat, DatasetValidationResult? Validation,
    Dictionary<string, string[]> Errors, string? Purpose = null);

/// <summary>
/// Streams a multipart upload to a temp file in the artifact store while validating every line in the same pass;
/// nothing is held whole in memory, and the caller either commits the temp file or deletes it.
/// </summary>
internal sealed class DatasetUploader(IArtifactStore store, DatasetUploadOptions options)
{
    /// <summary><paramref name="maxBytes"/>: the upload limit, or less where the tenant's storage quota leaves less.</summary>
    public async Task<UploadOutcome> ReadAsync(HttpRequest request, string key, long maxBytes, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        string? name = null, fileName = null, tempPath = null, formatText = null, purpose = null;
        DatasetValidationResult? validation = null;

        var boundary = HeaderUtilities.RemoveQuotes(MediaTypeHeaderValue.Parse(request.ContentType).Boundary).Value;
        var reader = new MultipartReader(boundary!, request.Body) { BodyLengthLimit = null };
        try
        {
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                var field = disposition.Name.Value;
                if (disposition.IsFileDisposition() && field == "file")
                {
                    if (tempPath is not null) { errors["file"] = ["send exactly one file."]; break; }
                    fileName = disposition.FileName.Value ?? disposition.FileNameStar.Value;
                    DatasetFormat? expected = formatText is not null && DatasetFormatNames.TryParse(formatText, out var f) ? f : null;
                    tempPath = store.NewTempPath(key);
                    await using var file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                    validation = await JsonlValidator.ValidateAsync(
                        new LengthLimitedStream(section.Body, maxBytes),
                        new DatasetValidationOptions(expected, options.MaxLineBytes, options.MaxReportedErrors),
                        file, ct);
                }
                else if (field is "name" or "format" or "purpose")
                {
                    using var text = new StreamReader(new LengthLimitedStream(section.Body, 1024));
                    var value = (await text.ReadToEndAsync(ct)).Trim();
                    if (field == "name") name = value; else if (field == "format") formatText = value; else purpose = value;
                }
            }
        }
        catch (Exception) when (tempPath is not null)
        {
            File.Delete(tempPath);
            throw;
        }

        DatasetFormat? requested = null;
        if (formatText is not null)
        {
            if (DatasetFormatNames.TryParse(formatText, out var parsed)) requested = parsed;
            else errors["format"] = ["format must be one of text, prompt_completion, messages, multiple_choice, exact_match."];
        }
        if (tempPath is null && !errors.ContainsKey("file")) errors["file"] = ["a multipart field named 'file' with the JSONL data is required."];
        if (name is { Length: > 200 }) errors["name"] = ["name must be at most 200 characters."];
        return new UploadOutcome(tempPath, fileName, name, requested, validation, errors, purpose);
    }
}
