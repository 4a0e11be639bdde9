using System.Security.Claims;
using LoraService.Api.Artifacts;
using LoraService.Api.Auth;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;

namespace LoraService.Api.Endpoints;

internal static class ArtifactsApi
{
    public static IEndpointRouteBuilder MapArtifactsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/artifacts").WithTags("Artifacts")
            .MapGet("/{id:guid}/content", Download)
            .WithSummary("Download an artifact (streamed; Range, ETag and SHA-256 supported)")
            .WithDescription("The ETag is the file's SHA-256; the same value is in the X-Checksum-Sha256 header. " +
                "Artifacts are found by id only: no client path ever reaches the file system. An archive (*_archive) is zipped on its first " +
                "download and kept; until then its listing shows bytes 0 and sha256 null.");
        return app;
    }

    private static async Task<Results<FileStreamHttpResult, NotFound>> Download(
        Guid id, ClaimsPrincipal user, LoraDbContext db, IArtifactStore store, HttpResponse response, CancellationToken ct)
    {
        var artifact = await db.Artifacts.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id && a.TenantId == user.TenantId(), ct);
        if (artifact is not null && ArchiveBuilder.IsArchive(artifact)) artifact = await ArchiveBuilder.EnsureBuiltAsync(db, store, artifact, ct);
        if (artifact is null || !store.Exists(artifact.StorageKey)) return TypedResults.NotFound();
        response.Headers["X-Checksum-Sha256"] = artifact.Sha256;
        return TypedResults.File(store.OpenRead(artifact.StorageKey), artifact.ContentType, artifact.FileName,
            artifact.CreatedAt, new EntityTagHeaderValue($"\"{artifact.Sha256}\""), enableRangeProcessing: true);
    }
}
