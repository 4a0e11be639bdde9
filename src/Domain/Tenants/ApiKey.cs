namespace LoraService.Domain.Tenants;

/// <summary>A bearer key. Only its SHA-256 hash is stored; the prefix finds the row cheaply.</summary>
public sealed class ApiKey
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid TenantId { get; init; }
    public Tenant? Tenant { get; init; }
    public required string Name { get; set; }
    public required string Prefix { get; init; }
    public required string Hash { get; init; }
    public bool IsAdmin { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset? RevokedAt { get; set; }
    /// <summary>After this the key answers 401; null = never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>When the key last authenticated a request, to the minute (written at most once a minute).</summary>
    public DateTimeOffset? LastUsedAt { get; set; }
}
