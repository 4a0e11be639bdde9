using System.Security.Claims;
using Hangfire;
using Hangfire.States;
using LoraService.Api.Auth;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using LoraService.ServiceDefaults;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

internal static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/v1/models").WithTags("Models");
        models.MapGet("/", List).WithSummary("Base models: the models folder's (global) and the ones your jobs promoted")
            .WithDescription("A promoted model has `owner_tenant_id` and `lineage` (parent model, job, when, by whom); other tenants do not see it.");
        models.MapGet("/{name}", Get).WithSummary("One base model, with its lineage when it was promoted from a job");
        models.MapDelete("/{name}", Delete).WithSummary("Delete a promoted model you own (its folder and row)")
            .WithDescription("409 while a queued or running job uses it; 403 for a global model (those are managed in the models folder); 404 for another tenant's.");
        models.MapPost("/", Create).RequireAuthorization(Auth.AuthPolicies.Admin)
            .WithSummary("Create a random-initialised model (to pretrain from scratch with a full fine-tuning job)")
            .WithDescription("A worker writes the checkpoint in the Hugging Face layout with a byte-level tokenizer; poll the Location until it answers 200.");
        models.MapPost("/sync", Sync).RequireAuthorization(Auth.AuthPolicies.Admin).WithSummary("Ask a worker to re-scan the models folder now (it also does so every five minutes)");
        return app;
    }

    /// <summary>
    /// A catalog entry; <c>supported: false</c> means the engine cannot train it, and <c>unsupported_reason</c> names the cause.
    /// <c>owner_tenant_id</c> is null for a global model; a promoted one has its <c>lineage</c>.
    /// </summary>
    public sealed record ModelResponse(string Name, string Architecture, long Parameters, int Layers, int HiddenSize, int VocabSize,
        int MaxPositions, string Dtype, bool HasTokenizer, IReadOnlyList<string> LoraTargets, bool Supported, string? UnsupportedReason,
        Guid? OwnerTenantId, ModelLineage? Lineage)
    {
        public static ModelResponse From(BaseModel m) => new(m.Name, m.Architecture, m.Parameters, m.Layers, m.HiddenSize, m.VocabSize,
            m.MaxPositions, m.Dtype, m.HasTokenizer, m.LoraTargets, m.Supported, m.UnsupportedReason, m.OwnerTenantId,
            m.OwnerTenantId is { } owner ? new ModelLineage(m.ParentModel, m.SourceJobId, m.PromotedAt, owner) : null);
    }

    /// <summary>Where a promoted model came from: the base model its job trained, the job, when and by which tenant.</summary>
    public sealed record ModelLineage(string? ParentModel, Guid? JobId, DateTimeOffset? PromotedAt, Guid PromotedBy);

    private static async Task<Ok<IReadOnlyList<ModelResponse>>> List(ClaimsPrincipal user, LoraDbContext db, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<ModelResponse>>((await db.BaseModels.AsNoTracking().VisibleTo(user.TenantId(), user.IsAdmin())
            .OrderBy(m => m.Name).ToListAsync(ct)).Select(ModelResponse.From).ToList());

    private static async Task<Results<Ok<ModelResponse>, NotFound>> Get(string name, ClaimsPrincipal user, LoraDbContext db, CancellationToken ct) =>
        await db.BaseModels.AsNoTracking().VisibleTo(user.TenantId(), user.IsAdmin()).SingleOrDefaultAsync(m => m.Name == name, ct) is { } model
            ? TypedResults.Ok(ModelResponse.From(model))
            : TypedResults.NotFound();

    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> Delete(
        string name, ClaimsPrincipal user, LoraDbContext db, LoraOptions lora, CancellationToken ct)
    {
        var model = await db.BaseModels.AsNoTracking().VisibleTo(user.TenantId(), user.IsAdmin()).SingleOrDefaultAsync(m => m.Name == name, ct);
        if (model is null) return TypedResults.NotFound();
        if (model.OwnerTenantId is null)
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Global models cannot be deleted through the API.",
                detail: "Models from the models folder are managed there; only promoted models can be deleted.");
        if (model.OwnerTenantId != user.TenantId() && !user.IsAdmin()) return TypedResults.NotFound();
        var active = new[] { nameof(JobStatus.Queued), nameof(JobStatus.Running), nameof(JobStatus.Cancelling) };
        var users = await db.Database
            .SqlQuery<Guid>($"SELECT id AS \"Value\" FROM jobs WHERE status = ANY({active}) AND spec->>'baseModel' = {name}")
            .ToListAsync(ct);
        if (users.Count > 0)
            return ApiProblems.Conflict("The model is in use.", $"Queued or running job(s) {string.Join(", ", users)} train on this model; cancel them or wait until they finish.");
        // The row first: from then on no job can be created on it; the folder goes after.
        if (await db.BaseModels.Where(m => m.Id == model.Id).ExecuteDeleteAsync(ct) == 0) return TypedResults.NotFound();
        PromotedModelStore.Remove(lora.ModelsPath, name);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Accepted<NewModelSpec>, ProblemHttpResult>> Create(NewModelSpec spec, LoraDbContext db, IBackgroundJobClient jobs, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (!ModelNames.IsValid(spec.Name)) errors["name"] = [ModelNames.Rule];
        else if (await db.BaseModels.AnyAsync(m => m.Name == spec.Name, ct)) errors["name"] = [$"A model named '{spec.Name}' exists."];
        if (spec.Architecture is not ("llama" or "gpt2")) errors["architecture"] = ["architecture must be llama or gpt2."];
        if (spec.HiddenSize is < 8 or > 4096) errors["hidden_size"] = ["hidden_size must be between 8 and 4096."];
        if (spec.Layers is < 1 or > 64) errors["layers"] = ["layers must be between 1 and 64."];
        if (spec.Heads < 1 || spec.HiddenSize % spec.Heads != 0) errors["heads"] = [$"heads must divide hidden_size ({spec.HiddenSize})."];
        if (spec.KeyValueHeads is { } kv && (kv < 1 || spec.Heads % kv != 0)) errors["key_value_heads"] = ["key_value_heads must divide heads."];
        if (spec.IntermediateSize is < 1 or > 16384) errors["intermediate_size"] = ["intermediate_size must be between 1 and 16384."];
        if (spec.MaxPositions is < 8 or > 8192) errors["max_positions"] = ["max_positions must be between 8 and 8192."];
        if (errors.Count > 0) return ApiProblems.Unprocessable(errors, "The model spec is invalid.");

        jobs.Create<IModelCatalog>(catalog => catalog.CreateRandom(spec), new EnqueuedState(ModelQueues.Models));
        return TypedResults.Accepted($"/api/v1/models/{spec.Name}", spec);
    }

    private static Accepted Sync(IBackgroundJobClient jobs)
    {
        jobs.Create<IModelCatalog>(catalog => catalog.Sync(), new EnqueuedState(ModelQueues.Models));
        return TypedResults.Accepted("/api/v1/models");
    }
}
