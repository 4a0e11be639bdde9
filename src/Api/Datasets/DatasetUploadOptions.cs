namespace LoraService.Api.Datasets;

/// <summary>Section "Datasets": upload limits.</summary>
public sealed record DatasetUploadOptions
{
    public const string Section = "Datasets";
    /// <summary>Largest accepted upload (default 2 GiB).</summary>
    public long MaxUploadBytes { get; init; } = 2L << 30;
    /// <summary>Longest accepted JSONL line (default 1 MiB).</summary>
    public int MaxLineBytes { get; init; } = 1 << 20;
    /// <summary>How many line errors a rejected upload reports (all are counted).</summary>
    public int MaxReportedErrors { get; init; } = 20;
}
