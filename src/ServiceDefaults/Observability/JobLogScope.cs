using Serilog.Core;
using Serilog.Events;

namespace LoraService.ServiceDefaults.Observability;

/// <summary>
/// The logging scope of a job's attempt: every log line written inside it, on any logger (the worker's own, EF Core,
/// the relayed output of the attempt's child process), carries the properties <c>JobId</c> and <c>JobAttempt</c>.
/// </summary>
public static class JobLogScope
{
    public const string JobIdProperty = "JobId";
    public const string AttemptProperty = "JobAttempt";

    public static IDisposable? Begin(Microsoft.Extensions.Logging.ILogger logger, Guid jobId, int attempt) =>
        logger.BeginScope(new Dictionary<string, object> { [JobIdProperty] = jobId, [AttemptProperty] = attempt });
}

/// <summary>Adds <c>JobTag</c> ("job ID#ATTEMPT ") to events that carry a job id, so the console shows it; empty otherwise.</summary>
public sealed class JobTagEnricher : ILogEventEnricher
{
    public const string Property = "JobTag";

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory factory)
    {
        if (!logEvent.Properties.TryGetValue(JobLogScope.JobIdProperty, out var id)) return;
        var attempt = logEvent.Properties.TryGetValue(JobLogScope.AttemptProperty, out var a) ? $"#{a}" : "";
        logEvent.AddPropertyIfAbsent(factory.CreateProperty(Property, $"job {Unquote(id)}{attempt} "));
    }

    private static string Unquote(LogEventPropertyValue value) => value is ScalarValue { Value: var v } ? $"{v}" : value.ToString();
}
