using LoraService.Domain.Datasets;

namespace LoraService.Api.OpenAi;

/// <summary>OpenAI's file object. A dataset is a <c>fine-tune</c> file; a job's step metrics are its <c>fine-tune-results</c> file.</summary>
/// <remarks>LoraService: This service's view of the file: the dataset id the native API uses, its detected format and rows.</remarks>
public sealed record OpenAiFile(string Id, string Object, long Bytes, long CreatedAt, string Filename, string Purpose, string Status,
    string? StatusDetails, OpenAiFileExtension? LoraService)
{
    public const string FineTune = "fine-tune";
    public const string FineTuneResults = "fine-tune-results";

    public static OpenAiFile From(Dataset d) => new(OpenAiIds.Of(OpenAiIds.File, d.Id), "file", d.Bytes, d.CreatedAt.ToUnixTimeSeconds(),
        d.Name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? d.Name : d.Name + ".jsonl", FineTune, "processed", null,
        new OpenAiFileExtension(d.Id, d.Format, d.Rows));
}

public sealed record OpenAiFileExtension(Guid DatasetId, string Format, long Rows);

public sealed record OpenAiDeleted(string Id, string Object, bool Deleted);

/// <summary>OpenAI's list envelope.</summary>
public sealed record OpenAiList<T>(IReadOnlyList<T> Data, bool HasMore, string? FirstId, string? LastId)
{
    public string Object => "list";
}
