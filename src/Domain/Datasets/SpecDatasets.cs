using LoraService.Contracts.Jobs;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Domain.Datasets;

/// <summary>The datasets a job spec refers to: its references are dataset ids.</summary>
public static class SpecDatasets
{
    /// <returns>Each reference (as the spec writes it) that names one of the tenant's datasets, with its row. Another
    /// tenant's dataset is indistinguishable from a missing one.</returns>
    public static async Task<IReadOnlyDictionary<string, Dataset>> FindForAsync(this IQueryable<Dataset> datasets, JobSpec spec, Guid tenantId, CancellationToken ct)
    {
        var ids = spec.DatasetReferences().Select(d => d.Reference).Distinct()
            .ToDictionary(r => r, r => Guid.TryParse(r, out var id) ? id : Guid.Empty);
        var wanted = ids.Values.Distinct().ToList();
        var rows = await datasets.AsNoTracking().Where(d => wanted.Contains(d.Id) && d.TenantId == tenantId).ToDictionaryAsync(d => d.Id, ct);
        return ids.Where(r => rows.ContainsKey(r.Value)).ToDictionary(r => r.Key, r => rows[r.Value]);
    }
}
