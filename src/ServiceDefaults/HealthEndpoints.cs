namespace LoraService.ServiceDefaults;

/// <summary>The paths every host serves for probes and scrapes (deployment files name them; a test holds them to these).</summary>
public static class HealthEndpoints
{
    /// <summary>The process answers.</summary>
    public const string Live = "/health/live";
    /// <summary>PostgreSQL answers and its schema is current.</summary>
    public const string Ready = "/health/ready";
}
