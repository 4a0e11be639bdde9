using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Api.Jobs;
using LoraService.Api.Quotas;
using LoraService.Contracts.Jobs;
using LoraService.Contracts.Sweeps;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.Domain.Sweeps;
using LoraService.ServiceDefaults.Observability;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace LoraService.Api.Sweeps;

/// <summary>What became of a sweep request: created, refused by a quota, or field errors (nothing stored in either case).</summary>
internal sealed record SweepCreation(Sweep? Sweep, ProblemHttpResult? Refused, IReadOnlyDictionary<string, string[]> Errors);

/// <summary>
/// Expands a sweep, checks every child with the one job check (<see cref="JobSpecCheck"/>) before anything is stored, then
/// stores the sweep and all its jobs in one transaction through <see cref="JobSubmission"/> and wakes the queue.
/// </summary>
internal sealed class SweepSubmission(
    LoraDbContext db, JobSpecCheck check, JobQueue queue, QuotaOptions quotas, SweepOptions options,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
{
    public async Task<SweepCreation> CreateAsync(SweepRequest request, Guid tenantId, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var name = string.IsNullOrWhiteSpace(request.Name) ? "sweep" : request.Name.Trim();
        if (name.Length > 200) errors["name"] = ["name must be at most 200 characters."];
        if (request.Base is null) errors["base"] = ["base is required: a job spec exactly as POST /api/v1/jobs takes it."];
        if (errors.Count > 0) return new(null, null, errors);

        var (plans, gridErrors) = SweepGrid.Expand(request.Base!, request.Grid, name, options.MaxChildren);
        if (gridErrors.Count > 0) return new(null, null, gridErrors);

        var specs = new List<JobSpec>();
        var childErrors = new List<IReadOnlyDictionary<string, string[]>>();
        foreach (var plan in plans)
        {
            var (resolved, found) = await CheckChildAsync(plan, tenantId, ct);
            childErrors.Add(found);
            if (resolved is not null) specs.Add(resolved);
        }
        if (childErrors.Any(e => e.Count > 0)) return new(null, null, NameErrors(plans, childErrors, request.Grid!));

        if (QuotaProblems.ForNewJobs(quotas.For(tenantId), await TenantUsage.ReadAsync(db, tenantId, ct), specs.Count) is { } refused)
            return new(null, refused, errors);

        var sweep = new Sweep { TenantId = tenantId, Name = name, BaseSpec = request.Base!.ToJsonString(), Grid = request.Grid!.ToJsonString() };
        db.Sweeps.Add(sweep);
        var jobs = new List<FineTuneJob>();
        for (var i = 0; i < specs.Count; i++)
        {
            var job = JobSubmission.Add(db, tenantId, specs[i], idempotencyKey: null, queue.Queue);
            db.SweepChildren.Add(new SweepChild { JobId = job.Id, SweepId = sweep.Id, Index = i, Coordinates = plans[i].Coordinates.ToJsonString() });
            jobs.Add(job);
        }
        await db.SaveChangesAsync(ct);
        ServiceMetrics.JobsCreated.Add(jobs.Count);
        foreach (var job in jobs) await queue.WakeAsync(db, job, ct);
        return new(sweep, null, errors);
    }

    /// <summary>A child's spec read as POST /jobs reads its body, then checked and resolved like a job.</summary>
    private async Task<(JobSpec? Spec, IReadOnlyDictionary<string, string[]> Errors)> CheckChildAsync(SweepChildPlan plan, Guid tenantId, CancellationToken ct)
    {
        JobSpec? spec;
        try
        {
            spec = plan.Spec.Deserialize<JobSpec>(json.Value.SerializerOptions);
        }
        catch (JsonException e)
        {
            var (field, message) = ProblemExceptionHandler.Describe(e) ?? ("", e.Message);
            return (null, new Dictionary<string, string[]> { [field] = [message] });
        }
        return spec is null ? (null, new Dictionary<string, string[]> { [""] = ["a spec must be a JSON object."] }) : await check.CheckAsync(spec, tenantId, ct);
    }

    /// <summary>
    /// Errors keyed <c>children[coordinates].field</c>; one that every child has alike in a field no grid key sets is the
    /// base's, reported once as <c>base.field</c>.
    /// </summary>
    private static Dictionary<string, string[]> NameErrors(IReadOnlyList<SweepChildPlan> plans, List<IReadOnlyDictionary<string, string[]>> childErrors, JsonObject grid)
    {
        bool SetByGrid(string field) => grid.Select(g => g.Key).Any(key => field == key || key.StartsWith(field + ".", StringComparison.Ordinal)
            || field.StartsWith(key + ".", StringComparison.Ordinal) || field.StartsWith(key + "[", StringComparison.Ordinal));
        var shared = childErrors[0].Keys
            .Where(field => !SetByGrid(field) && childErrors.All(e => e.TryGetValue(field, out var m) && m.SequenceEqual(childErrors[0][field])))
            .ToHashSet();
        var errors = shared.ToDictionary(field => field.Length == 0 ? "base" : "base." + field, field => childErrors[0][field]);
        for (var i = 0; i < plans.Count; i++)
            foreach (var (field, messages) in childErrors[i].Where(e => !shared.Contains(e.Key)))
                errors[$"children[{plans[i].Label}]" + (field.Length == 0 ? "" : "." + field)] = messages;
        return errors;
    }

    /// <summary>A sweep child's coordinates as stored.</summary>
    public static JsonObject Coordinates(SweepChild child) => JsonNode.Parse(child.Coordinates) as JsonObject ?? [];
}
