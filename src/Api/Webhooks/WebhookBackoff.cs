namespace LoraService.Api.Webhooks;

/// <summary>Exponential backoff with jitter: initial × 2^(attempts−1), capped, then scaled by a random 0.8–1.2.</summary>
internal static class WebhookBackoff
{
    public static TimeSpan After(int failedAttempts, WebhookOptions options)
    {
        var exponent = Math.Min(Math.Max(failedAttempts - 1, 0), 30);
        var seconds = Math.Min(options.InitialBackoffSeconds * Math.Pow(2, exponent), options.MaxBackoffSeconds);
        return TimeSpan.FromSeconds(seconds * (0.8 + 0.4 * Random.Shared.NextDouble()));
    }
}
