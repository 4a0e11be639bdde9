namespace LoraService.Api.Quotas;

/// <summary>Section "Quotas": per-tenant limits; null = unlimited. <see cref="Tenants"/> overrides them by tenant id.</summary>
internal sealed record QuotaOptions
{
    public const string Section = "Quotas";
    public long? StorageBytes { get; init; }
    public int? RunningJobs { get; init; }
    public int? QueuedJobs { get; init; }
    public Dictionary<string, TenantQuota> Tenants { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The limits that apply to one tenant: its overrides where set, else the defaults.</summary>
    public TenantQuota For(Guid tenantId)
    {
        var own = Tenants.GetValueOrDefault(tenantId.ToString());
        return new TenantQuota
        {
            StorageBytes = own?.StorageBytes ?? StorageBytes,
            RunningJobs = own?.RunningJobs ?? RunningJobs,
            QueuedJobs = own?.QueuedJobs ?? QueuedJobs,
        };
    }
}

internal sealed record TenantQuota
{
    public long? StorageBytes { get; init; }
    public int? RunningJobs { get; init; }
    public int? QueuedJobs { get; init; }
}
