namespace LoraService.Domain.Datasets;

/// <summary>A validated JSONL file in the artifact store. Rows exist only for fully validated uploads.</summary>
public sealed class Dataset : ITenantOwned
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid TenantId { get; init; }
    public required string Name { get; set; }
    /// <summary>text, prompt_completion, messages, multiple_choice or exact_match.</summary>
    public required string Format { get; init; }
    public long Rows { get; init; }
    public long Bytes { get; init; }
    public required string Sha256 { get; init; }
    /// <summary>Key in the artifact store, never a client-supplied path.</summary>
    public required string StorageKey { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
}
