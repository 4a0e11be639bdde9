namespace LoraService.Domain.Models;

public static class ModelVisibility
{
    /// <summary>Global models, the tenant's own promoted models, and every model for an admin.</summary>
    public static IQueryable<BaseModel> VisibleTo(this IQueryable<BaseModel> models, Guid tenantId, bool isAdmin) =>
        isAdmin ? models : models.Where(m => m.OwnerTenantId == null || m.OwnerTenantId == tenantId);
}
