namespace LoraService.Api.RateLimits;

/// <summary>
/// Section "RateLimits": requests per API key and route group (the path segment after /api/v1/: jobs, datasets,
/// artifacts, models, me, tenants) in a fixed window. <see cref="Groups"/> overrides the default per group;
/// a limit of 0 = unlimited.
/// </summary>
/// <remarks>
/// The default, 6,000 a minute (100/s) per key and group, stops a runaway client while staying far above real use: the
/// dashboard's job page polls three <c>jobs</c> calls every 2 s and its list one every 5 s, about 100 a minute
/// (<see cref="DashboardRequestsPerMinute"/>); and 50 keys can still poll 3,000 times a second in all (docs/benchmarks.md).
/// </remarks>
internal sealed record RateLimitOptions
{
    public const string Section = "RateLimits";
    /// <summary>What one open dashboard asks of the <c>jobs</c> group per minute (wwwroot/job.js, jobs.js).</summary>
    public const int DashboardRequestsPerMinute = 3 * 30 + 12;

    public int PermitLimit { get; init; } = 6000;
    public double WindowSeconds { get; init; } = 60;
    public Dictionary<string, GroupRateLimit> Groups { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    public GroupRateLimit For(string group)
    {
        var own = Groups.GetValueOrDefault(group);
        return new GroupRateLimit { PermitLimit = own?.PermitLimit ?? PermitLimit, WindowSeconds = own?.WindowSeconds ?? WindowSeconds };
    }
}

internal sealed record GroupRateLimit
{
    public int? PermitLimit { get; init; }
    public double? WindowSeconds { get; init; }
}
