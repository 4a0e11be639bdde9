using System.Security.Claims;
using LoraService.Api.Auth;
using LoraService.Api.Sweeps;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

/// <summary>Any set of a tenant's jobs on one base model and one set of eval sets, on the learning/forgetting plane.</summary>
internal static class CompareApi
{
    public const int MaxJobs = 100;

    public static IEndpointRouteBuilder MapCompareApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/compare", Compare).WithTags("Sweeps")
            .WithSummary("Jobs on the learning/forgetting plane: points, paths over their evaluations, the Pareto front, the best job under a limit")
            .WithDescription("job_ids=a,b,c (up to 100) of jobs on the same base model with the same target and source sets (422 naming the one " +
                "that differs). metric, learning_metric, forgetting_metric and max_forgetting as in GET /sweeps/{id}.");
        return app;
    }

    private static async Task<Results<Ok<CompareResponse>, ProblemHttpResult>> Compare(
        ClaimsPrincipal user, LoraDbContext db, CancellationToken ct,
        [FromQuery(Name = "job_ids")] string? jobIds = null, [FromQuery] string? metric = null,
        [FromQuery(Name = "learning_metric")] string? learningMetric = null, [FromQuery(Name = "forgetting_metric")] string? forgettingMetric = null,
        [FromQuery(Name = "max_forgetting")] double? maxForgetting = null)
    {
        var errors = new Dictionary<string, string[]>();
        var texts = (jobIds ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (texts.Length == 0) errors["job_ids"] = ["job_ids is required: a comma-separated list of job ids."];
        else if (texts.Length > MaxJobs) errors["job_ids"] = [$"at most {MaxJobs} jobs."];
        var ids = new List<Guid>();
        for (var i = 0; i < texts.Length && errors.Count == 0; i++)
        {
            if (!Guid.TryParse(texts[i], out var id)) errors[$"job_ids[{i}]"] = [$"'{texts[i]}' is not a job id."];
            else if (!ids.Contains(id)) ids.Add(id);
        }
        if (errors.Count > 0) return ApiProblems.Unprocessable(errors, "The jobs cannot be compared.");

        var tenantId = user.TenantId();
        var found = await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.Id) && j.TenantId == tenantId).ToDictionaryAsync(j => j.Id, ct);
        foreach (var (id, i) in ids.Select((id, i) => (id, i)).Where(x => !found.ContainsKey(x.id)))
            errors[$"job_ids[{i}]"] = [$"No job {id} (see GET /api/v1/jobs)."];
        if (errors.Count > 0) return ApiProblems.Unprocessable(errors, "The jobs cannot be compared.");

        var jobs = ids.Select(id => found[id]).ToList();
        var first = jobs[0];
        for (var i = 1; i < jobs.Count; i++)
            if (Difference(first, jobs[i]) is { } difference) errors[$"job_ids[{i}]"] = [difference];
        if (errors.Count > 0) return ApiProblems.Unprocessable(errors, "The jobs are not comparable: they need one base model and the same eval sets.");

        var (plane, metricErrors) = await TradeOffPlane.BuildAsync(db, jobs, new MetricChoice(metric, learningMetric, forgettingMetric, maxForgetting), ct);
        return plane is null ? ApiProblems.Unprocessable(metricErrors, "The jobs cannot be compared on that metric.") : TypedResults.Ok(plane.ToCompare());
    }

    private static string? Difference(Domain.Jobs.FineTuneJob first, Domain.Jobs.FineTuneJob other)
    {
        if (other.Spec.BaseModel != first.Spec.BaseModel)
            return $"Job {other.Id} is on base model '{other.Spec.BaseModel}'; job {first.Id} (the first) is on '{first.Spec.BaseModel}'.";
        static string Sets(IReadOnlyList<string>? sets) => string.Join(", ", (sets ?? []).Order(StringComparer.Ordinal));
        foreach (var (role, pick) in new (string, Func<Domain.Jobs.FineTuneJob, IReadOnlyList<string>?>)[] { ("target", j => j.Spec.Evaluation?.Target), ("source", j => j.Spec.Evaluation?.Source) })
            if (Sets(pick(other)) != Sets(pick(first)))
                return $"Job {other.Id} has {role} sets [{Sets(pick(other))}]; job {first.Id} (the first) has [{Sets(pick(first))}].";
        return null;
    }
}
