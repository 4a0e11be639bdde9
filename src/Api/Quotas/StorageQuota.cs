using LoraService.Domain.Persistence;

namespace LoraService.Api.Quotas;

/// <summary>The bytes a tenant may still store under its storage quota (checked when a dataset is uploaded).</summary>
internal sealed record StorageQuota(long Limit, long Used)
{
    public long Left => Limit - Used;

    /// <summary>Null when the tenant has no storage quota.</summary>
    public static async Task<StorageQuota?> LeftAsync(LoraDbContext db, QuotaOptions quotas, Guid tenantId, CancellationToken ct) =>
        quotas.For(tenantId).StorageBytes is { } limit ? new StorageQuota(limit, (await TenantUsage.ReadAsync(db, tenantId, ct)).StorageBytes) : null;

    public const string Quota = "storage_bytes";

    /// <summary>413 naming the quota, its value and the tenant's use.</summary>
    public Datasets.DatasetRejected Rejection() => new(StatusCodes.Status413PayloadTooLarge, QuotaProblems.Title(Quota),
        $"You store {Used} bytes and your quota is {Limit}: this upload does not fit in the {Math.Max(0, Left)} bytes left. Delete datasets or finished jobs to make room.",
        new Dictionary<string, string[]>(), null, QuotaProblems.Extensions(Quota, Limit, Used));
}
