using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Contracts;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Jobs;

/// <summary>
/// What produced a job's result. Once it succeeded: the provenance its run wrote into summary.json (resolved spec,
/// SHA-256 of each dataset file and of the base weights, engine version). Before that, what is known already: the
/// resolved spec, each dataset's SHA-256 recorded at upload, and the weights digest its first attempt recorded.
/// </summary>
internal static class JobProvenance
{
    public static async Task<JsonNode> ReadAsync(FineTuneJob job, JsonElement? summary, LoraDbContext db, IArtifactStore store, CancellationToken ct)
    {
        if (summary is { } s && s.TryGetProperty("provenance", out var written))
            return JsonNode.Parse(written.GetRawText())!;

        var datasets = await db.Datasets.FindForAsync(job.Spec, job.TenantId, ct);
        var digests = new JsonObject();
        foreach (var (reference, dataset) in datasets)
            digests[reference] = new JsonObject { ["file"] = dataset.Name, ["sha256"] = dataset.Sha256 };

        var recorded = $"{JobStorageKeys.Work(job.Id)}/{RunFiles.Provenance}";
        JsonNode? baseModel = null;
        if (store.Exists(recorded))
        {
            await using var stream = store.OpenRead(recorded);
            baseModel = await JsonNode.ParseAsync(stream, cancellationToken: ct);
        }
        return new JsonObject
        {
            ["engine_version"] = null,
            ["job"] = JsonSerializer.SerializeToNode(job.Spec, JobSpecJson.Options),
            ["base_model"] = baseModel,
            ["datasets"] = digests,
        };
    }
}
