namespace LoraService.Domain.Tenants;

/// <summary>An owner of datasets, jobs and artifacts. Every API key belongs to one.</summary>
public sealed class Tenant
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
}
