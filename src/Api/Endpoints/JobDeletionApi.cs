using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

/// <summary>DELETE /jobs/{id}: a finished job's rows and files go for good.</summary>
internal static class JobDeletionApi
{
    public static RouteGroupBuilder MapJobDeletionApi(this RouteGroupBuilder jobs)
    {
        jobs.MapDelete("/{id:guid}", DeleteJob)
            .WithSummary("Delete a finished job with its events, metrics, checkpoints, attempts, artifacts and files")
            .WithDescription("Only a succeeded, failed or cancelled job: 409 while it is queued, running or cancelling (cancel it first). " +
                "204 when deleted; a job that does not exist (or was already deleted) is a 404.");
        return jobs;
    }

    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> DeleteJob(
        Guid id, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == id && j.TenantId == tenantId, ct);
        if (job is null) return TypedResults.NotFound();
        // Conditional, so a retry that re-queued the job meanwhile wins; events, metrics, checkpoints, attempts and
        // artifacts go with the row (ON DELETE CASCADE).
        var deleted = JobLifecycle.IsTerminal(job.Status) && await db.Jobs
            .Where(j => j.Id == id && j.TenantId == tenantId &&
                (j.Status == JobStatus.Succeeded || j.Status == JobStatus.Failed || j.Status == JobStatus.Cancelled))
            .ExecuteDeleteAsync(ct) == 1;
        if (!deleted)
            return ApiProblems.Conflict("The job has not finished.", JobLifecycle.IsTerminal(job.Status)
                    ? "The job was retried meanwhile; cancel it and delete it once it is cancelled."
                    : $"The job is {job.Status.ToString().ToLowerInvariant()}; cancel it and delete it once it is cancelled.");
        // Files after the rows: nothing can resume a job without its row, so no reader is left half way.
        JobFiles.DeleteAll(store, id);
        return TypedResults.NoContent();
    }
}
