using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using LoraService.Training.Export;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Worker.Models;

/// <summary>
/// Promotions the API cannot do by copying: a LoRA job without a merged export. The merge needs TorchSharp, which only
/// workers load. The outcome is an event on the job (<c>promoted</c> or <c>promotion_failed</c>); never retried.
/// </summary>
internal sealed class ModelPromoter(LoraDbContext db, LoraOptions options, IArtifactStore store, ILogger<ModelPromoter> logger) : IModelPromoter
{
    public void Promote(ModelPromotion promotion)
    {
        var job = db.Jobs.AsNoTracking().SingleOrDefault(j => j.Id == promotion.JobId && j.TenantId == promotion.TenantId);
        if (job is null)
        {
            logger.LogWarning("Promotion of job {JobId} to {Name} skipped: the job was deleted", promotion.JobId, promotion.Name);
            return;
        }
        try
        {
            var parent = db.BaseModels.AsNoTracking().SingleOrDefault(m => m.Name == job.Spec.BaseModel)
                ?? throw new InvalidOperationException($"the job's base model '{job.Spec.BaseModel}' is no longer registered");
            var source = PromotionSource.For(job, store);
            var baseFolder = Path.Combine(options.ModelsPath, parent.Name);
            PromotedModelStore.Install(db, options.ModelsPath, parent.PromotedAs(promotion.Name, promotion.TenantId, job.Id, promotion.RequestedAt), folder =>
            {
                switch (source.Kind)
                {
                    case PromotionSourceKind.Adapter: AdapterMerge.Write(baseFolder, source.Folder!, folder); break;
                    case PromotionSourceKind.Checkpoint: PromotedModelStore.CopyFolder(source.Folder!, folder); break;
                    default: throw new InvalidOperationException("the job's model files are gone (outputs expired or deleted)");
                }
            });
            Record(JobEvent.Create(job.Id, $"Promoted to base model '{promotion.Name}'", new { model = promotion.Name }, type: "promoted"));
            logger.LogInformation("Promoted job {JobId} to base model {Name}", job.Id, promotion.Name);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Promotion of job {JobId} to {Name} failed", job.Id, promotion.Name);
            Record(JobEvent.Create(job.Id, $"Promotion to base model '{promotion.Name}' failed: {e.Message}", new { model = promotion.Name },
                level: "error", type: "promotion_failed"));
        }
    }

    private void Record(JobEvent jobEvent)
    {
        db.ChangeTracker.Clear();
        db.JobEvents.Add(jobEvent);
        db.SaveChanges();
    }
}
