using System.Security.Claims;
using Hangfire;
using Hangfire.States;
using LoraService.Api.Auth;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

/// <summary>POST /jobs/{id}/promote: a succeeded job's model becomes a base model of the tenant.</summary>
internal static class PromotionApi
{
    public sealed record PromoteRequest(string? Name);

    /// <summary>202: a worker merges the adapter and installs the model; poll <c>Location</c> until it answers 200 (the job's events say if it failed).</summary>
    public sealed record PromotionAccepted(string Name, Guid JobId, string Status);

    public static RouteGroupBuilder MapPromotionApi(this RouteGroupBuilder jobs)
    {
        jobs.MapPost("/{id:guid}/promote", Promote)
            .WithSummary("Register a succeeded job's model as a base model of your tenant")
            .WithDescription("Full fine-tuning: its model; LoRA: its merged model, copied into the models store (201). A LoRA job that did " +
                "not export a merged model is merged on a worker (202; poll the Location, the job's events say `promoted` or `promotion_failed`). " +
                "The model is visible to your tenant and admins, carries its lineage, and is not touched by output retention. " +
                "409: the job has not finished, or the name is taken (by any model); 422: a failed or cancelled job, a bad name, or " +
                "nothing left to promote (e.g. expired outputs); 404: not your job.");
        return jobs;
    }

    private static async Task<Results<Created<ModelsApi.ModelResponse>, Accepted<PromotionAccepted>, NotFound, ProblemHttpResult>> Promote(
        Guid id, PromoteRequest request, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, LoraOptions lora,
        IBackgroundJobClient queue, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == id && j.TenantId == tenantId, ct);
        if (job is null) return TypedResults.NotFound();
        if (!JobLifecycle.IsTerminal(job.Status))
            return ApiProblems.Conflict("The job has not finished.", $"The job is {Status(job)}; promote it once it has succeeded.");
        if (job.Status != JobStatus.Succeeded)
            return Unprocessable("job", $"Only a succeeded job can be promoted; this one is {Status(job)}.");
        var name = request.Name;
        if (!ModelNames.IsValid(name)) return Unprocessable("name", ModelNames.Rule);
        if (await db.BaseModels.AnyAsync(m => m.Name == name, ct) || Directory.Exists(Path.Combine(lora.ModelsPath, name!)))
            return NameTaken(name!);
        var parent = await db.BaseModels.AsNoTracking().SingleOrDefaultAsync(m => m.Name == job.Spec.BaseModel, ct);
        if (parent is null)
            return Unprocessable("job", $"The job's base model '{job.Spec.BaseModel}' is no longer registered, so its lineage and shape are unknown.");

        var source = PromotionSource.For(job, store);
        switch (source.Kind)
        {
            case PromotionSourceKind.None:
                return Unprocessable("job", "The job has nothing to promote: its model files are gone (outputs expired or deleted).");
            case PromotionSourceKind.Adapter:
                queue.Create<IModelPromoter>(p => p.Promote(new ModelPromotion(job.Id, name!, tenantId, DateTimeOffset.UtcNow)), new EnqueuedState(ModelQueues.Models));
                db.JobEvents.Add(JobEvent.Create(job.Id, $"Promotion to base model '{name}' queued: a worker merges the adapter", new { model = name }, type: "promotion_queued"));
                await db.SaveChangesAsync(ct);
                return TypedResults.Accepted($"/api/v1/models/{name}", new PromotionAccepted(name!, job.Id, "merging"));
        }
        BaseModel model;
        try
        {
            model = PromotedModelStore.Install(db, lora.ModelsPath, parent.PromotedAs(name!, tenantId, job.Id, DateTimeOffset.UtcNow),
                folder => PromotedModelStore.CopyFolder(source.Folder!, folder));
        }
        catch (ModelNameTakenException)
        {
            return NameTaken(name!);
        }
        db.JobEvents.Add(JobEvent.Create(job.Id, $"Promoted to base model '{name}'", new { model = name }, type: "promoted"));
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/models/{name}", ModelsApi.ModelResponse.From(model));
    }

    private static string Status(FineTuneJob job) => job.Status.ToString().ToLowerInvariant();

    private static ProblemHttpResult Unprocessable(string field, string message) =>
        ApiProblems.Unprocessable(new Dictionary<string, string[]> { [field] = [message] }, "The job cannot be promoted.");

    private static ProblemHttpResult NameTaken(string name) =>
        ApiProblems.Conflict("The model name is taken.", $"A model named '{name}' exists; choose another name.");
}
