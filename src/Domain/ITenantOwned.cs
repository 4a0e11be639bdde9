namespace LoraService.Domain;

/// <summary>A row that belongs to a tenant and lists newest first (datasets, jobs).</summary>
public interface ITenantOwned
{
    Guid Id { get; }
    Guid TenantId { get; }
    DateTimeOffset CreatedAt { get; }
}
