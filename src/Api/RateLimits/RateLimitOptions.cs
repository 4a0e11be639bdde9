namespace LoraService.Api.RateLimits;

/// <summary>
/// Section "RateLimits": requests per API key and route group (the path segment after /api/v1/: jobs, datasets,
/// artifacts, models, me, tenants) in a fixed window. <see cref="Groups"/> overrides the default per group;
/// a limit of 0 = unlimited.
/// </summary>
internal sealed record RateLimitOptions
{
    public const string Section = "RateLimits";
    public int PermitLimit { get; init; }
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
