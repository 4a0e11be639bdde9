namespace LoraService.Api.Webhooks;

/// <summary>Section "Webhooks": delivery timing and which URLs an endpoint may point at.</summary>
internal sealed record WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>Allow <c>http://</c> URLs (default: only https).</summary>
    public bool AllowInsecureUrls { get; init; }
    /// <summary>Allow loopback, private, link-local and other non-public addresses, at registration and when connecting.</summary>
    public bool AllowPrivateAddresses { get; init; }
    /// <summary>One attempt's limit, connecting and reading the response included.</summary>
    public double TimeoutSeconds { get; init; } = 10;
    /// <summary>The wait after the first failed attempt; it doubles after each further one, up to <see cref="MaxBackoffSeconds"/>, with ±20% jitter.</summary>
    public double InitialBackoffSeconds { get; init; } = 5;
    public double MaxBackoffSeconds { get; init; } = 3600;
    /// <summary>How long after an event's first attempt a delivery is still retried; then it is <c>failed</c>.</summary>
    public double RetryForHours { get; init; } = 24;
    /// <summary>An endpoint whose every attempt failed for this long is disabled.</summary>
    public double DisableAfterDays { get; init; } = 5;
    /// <summary>The dispatcher's poll when no NOTIFY woke it (retries that came due, a lost notification).</summary>
    public double PollSeconds { get; init; } = 1;
    /// <summary>Deliveries sent at the same time by one API instance.</summary>
    public int Concurrency { get; init; } = 64;
    /// <summary>Deliveries one instance claims per round.</summary>
    public int BatchSize { get; init; } = 200;

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);
    public TimeSpan RetryFor => TimeSpan.FromHours(RetryForHours);
    public TimeSpan DisableAfter => TimeSpan.FromDays(DisableAfterDays);
    public TimeSpan Poll => TimeSpan.FromSeconds(PollSeconds);
    /// <summary>A claimed delivery is held this long; past it another instance may send it again (at-least-once).</summary>
    public TimeSpan Lease => Timeout * 3 + TimeSpan.FromSeconds(5);
}
