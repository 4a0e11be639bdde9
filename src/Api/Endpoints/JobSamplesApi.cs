using System.Security.Claims;
using LoraService.Api.Jobs;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace LoraService.Api.Endpoints;

/// <summary>What the model wrote at each evaluation: a few prompts per exact-match and multiple-choice set, with output and expected answer.</summary>
internal static class JobSamplesApi
{
    public static RouteGroupBuilder MapJobSamplesApi(this RouteGroupBuilder jobs)
    {
        jobs.MapGet("/{id:guid}/samples", GetSamples)
            .WithSummary("Sample generations of one evaluated step (default: the latest), per target and source set")
            .WithDescription("Each evaluation records the first `evaluation.samples` rows (default 3) of every exact-match set " +
                "(prompt, greedy generation up to EOS, reference answer) and multiple-choice set (context, the choice ranked first " +
                "by acc_norm, the labelled choice); loss-only sets record none. `steps` lists every step that has samples; " +
                "`?step=` picks one (an unknown step answers empty `sets`). Texts are plain text, cut to 4000 characters.");
        return jobs;
    }

    public sealed record SampleResponse(int Index, string Prompt, string Output, string Expected, bool Correct);

    public sealed record SetSamplesResponse(string Role, Guid DatasetId, string Name, IReadOnlyList<SampleResponse> Samples);

    /// <param name="JobId">The job.</param>
    /// <param name="Steps">Every evaluated step with samples, ascending.</param>
    /// <param name="Step">The step shown: the one asked for, else the latest; null when there are no samples yet.</param>
    /// <param name="Sets">That step's samples per set: target sets first, then source sets.</param>
    public sealed record SamplesResponse(Guid JobId, IReadOnlyList<int> Steps, int? Step, IReadOnlyList<SetSamplesResponse> Sets);

    private static async Task<Results<Ok<SamplesResponse>, NotFound, ValidationProblem>> GetSamples(
        Guid id, int? step, ClaimsPrincipal user, LoraDbContext db, IMemoryCache cache, CancellationToken ct)
    {
        if (!await JobOwnership.IsOwnedAsync(id, user, db, cache, ct)) return TypedResults.NotFound();
        if (step is < 0) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["step"] = ["step must be 0 or more."] });
        var samples = db.EvaluationSamples.AsNoTracking().Where(s => s.JobId == id);
        var steps = await samples.Select(s => s.Step).Distinct().OrderBy(s => s).ToListAsync(ct);
        var shown = step ?? (steps.Count > 0 ? steps[^1] : null);
        if (shown is null) return TypedResults.Ok(new SamplesResponse(id, steps, null, []));
        var rows = await samples.Where(s => s.Step == shown).ToListAsync(ct);
        // Target sets first (what the job learns), then source sets (what it may forget); by name within a role.
        var sets = rows.GroupBy(s => (s.Role, s.DatasetId))
            .OrderBy(g => g.Key.Role == "target" ? 0 : 1).ThenBy(g => g.First().DatasetName, StringComparer.Ordinal).ThenBy(g => g.Key.DatasetId)
            .Select(g => new SetSamplesResponse(g.Key.Role, g.Key.DatasetId, g.First().DatasetName,
                g.OrderBy(s => s.Index).Select(s => new SampleResponse(s.Index, s.Prompt, s.Output, s.Expected, s.Correct)).ToList()))
            .ToList();
        return TypedResults.Ok(new SamplesResponse(id, steps, shown, sets));
    }
}
