using System.Globalization;
using System.Threading.RateLimiting;
using LoraService.Api.Auth;
using Microsoft.AspNetCore.RateLimiting;

namespace LoraService.Api.RateLimits;

/// <summary>
/// ASP.NET Core's rate limiter, one fixed window per (API key, route group); requests without a key are not limited
/// here (authentication refuses them). Over the limit: 429 problem+json with Retry-After. Each instance counts alone.
/// </summary>
internal static class ApiRateLimits
{
    public static IServiceCollection AddApiRateLimits(this IServiceCollection services, RateLimitOptions options) =>
        services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context => Partition(context, options));
            limiter.OnRejected = RejectAsync;
        });

    private static RateLimitPartition<string> Partition(HttpContext context, RateLimitOptions options)
    {
        var keyId = context.User.FindFirst(ApiKeyClaims.KeyId)?.Value;
        var group = Group(context.Request.Path);
        var limit = options.For(group);
        if (keyId is null || limit.PermitLimit is not > 0) return RateLimitPartition.GetNoLimiter("");
        return RateLimitPartition.GetFixedWindowLimiter($"{keyId}/{group}", _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = limit.PermitLimit.Value,
            Window = TimeSpan.FromSeconds(limit.WindowSeconds ?? 60),
            QueueLimit = 0,
        });
    }

    /// <summary>/api/v1/jobs/… → "jobs"; any other path → its first segment (e.g. "v1", "hangfire").</summary>
    internal static string Group(PathString path)
    {
        var segments = (path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments is ["api", "v1", var group, ..] ? group : segments.FirstOrDefault() ?? "";
    }

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken ct)
    {
        var response = rejected.HttpContext.Response;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
        response.StatusCode = StatusCodes.Status429TooManyRequests;
        response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        var group = Group(rejected.HttpContext.Request.Path);
        await TypedResults.Problem(statusCode: 429, title: "Too many requests.",
                detail: $"This API key's rate limit for '{group}' is used up; retry after {retryAfter} s.",
                extensions: new Dictionary<string, object?> { ["group"] = group, ["retry_after_seconds"] = retryAfter })
            .ExecuteAsync(rejected.HttpContext);
    }
}
