using LoraService.Contracts.Jobs;
using LoraService.Domain.Datasets;
using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Jobs;

/// <summary>
/// Checks a job spec against this service's catalog and the tenant's datasets with the shared
/// <see cref="JobSpecValidator"/>, and resolves its defaults: the spec that is stored, or field errors. Another tenant's
/// promoted model is answered exactly like a name that does not exist.
/// </summary>
internal sealed class JobSpecCheck(LoraDbContext db, JobQueueOptions queue)
{
    public async Task<(JobSpec? Spec, IReadOnlyDictionary<string, string[]> Errors)> CheckAsync(JobSpec spec, Guid tenantId, CancellationToken ct)
    {
        var model = string.IsNullOrWhiteSpace(spec.BaseModel)
            ? null
            : await db.BaseModels.AsNoTracking().VisibleTo(tenantId, isAdmin: false).SingleOrDefaultAsync(m => m.Name == spec.BaseModel, ct);

        var datasets = await db.Datasets.FindForAsync(spec, tenantId, ct);

        var context = new JobSpecContext(
            model?.Facts(),
            $"No base model named '{spec.BaseModel}' (see GET /api/v1/models).",
            reference => datasets.TryGetValue(reference, out var d)
                ? new DatasetFacts(d.Id.ToString(), d.Name, d.Format)
                : null,
            " (see GET /api/v1/datasets)");
        return JobSpecResolver.Check(spec, context, queue.MaxAttempts);
    }
}
