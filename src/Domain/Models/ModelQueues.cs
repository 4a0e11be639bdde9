namespace LoraService.Domain.Models;

public static class ModelQueues
{
    /// <summary>Hangfire queue for <see cref="IModelCatalog"/> work; every worker serves it.</summary>
    public const string Models = "models";
}
