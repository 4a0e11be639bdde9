namespace LoraService.Domain.Artifacts;

/// <summary>A file a job produced. Downloads resolve by <see cref="Id"/> only.</summary>
public sealed class Artifact
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid JobId { get; init; }
    public Guid TenantId { get; init; }
    /// <summary>adapter, adapter_config, merged_model, model, metrics, summary, spectral, archive.</summary>
    public required string Kind { get; init; }
    public required string FileName { get; init; }
    public required string ContentType { get; init; }
    public required string StorageKey { get; init; }
    public long Bytes { get; set; }
    /// <summary>Null for an archive that has not been built yet: archives are zipped on their first download.</summary>
    public string? Sha256 { get; set; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
}
