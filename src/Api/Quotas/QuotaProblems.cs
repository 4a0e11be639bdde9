using Microsoft.AspNetCore.Http.HttpResults;

namespace LoraService.Api.Quotas;

/// <summary>A refused request names the quota (as in GET /me/usage), its value and the tenant's current use.</summary>
internal static class QuotaProblems
{
    public static ProblemHttpResult Exceeded(int status, string quota, long limit, long current, string detail) =>
        TypedResults.Problem(statusCode: status, title: Title(quota), detail: detail, extensions: Extensions(quota, limit, current));

    public static string Title(string quota) => $"Quota exceeded: {quota}";

    public static Dictionary<string, object?> Extensions(string quota, long limit, long current) =>
        new() { ["quota"] = quota, ["limit"] = limit, ["current"] = current };

    /// <summary>429 when creating one more job would pass the running or queued jobs quota; null when it may go ahead.</summary>
    public static ProblemHttpResult? ForNewJob(TenantQuota quota, TenantUsage usage) => ForNewJobs(quota, usage, 1);

    /// <summary>429 when queuing <paramref name="count"/> more jobs at once (a sweep) would pass a quota; null when they may go ahead.</summary>
    public static ProblemHttpResult? ForNewJobs(TenantQuota quota, TenantUsage usage, int count) =>
        quota.QueuedJobs is { } queued && usage.QueuedJobs + count > queued
            ? Exceeded(StatusCodes.Status429TooManyRequests, "queued_jobs", queued, usage.QueuedJobs, count == 1
                ? $"You have {usage.QueuedJobs} queued jobs and your quota is {queued}; wait until some start or cancel some."
                : $"This queues {count} jobs; you have {usage.QueuedJobs} queued and your quota is {queued}. Nothing was queued; shrink the grid, or wait until some start or cancel some.")
            : quota.RunningJobs is { } running && usage.RunningJobs >= running
                ? Exceeded(StatusCodes.Status429TooManyRequests, "running_jobs", running, usage.RunningJobs,
                    $"You have {usage.RunningJobs} running jobs and your quota is {running}; create more once some finished.")
                : null;
}
