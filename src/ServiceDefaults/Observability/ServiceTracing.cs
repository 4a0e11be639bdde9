using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace LoraService.ServiceDefaults.Observability;

/// <summary>
/// Traces (activity source "LoraService"): a <c>job.attempt</c> span around each attempt a worker runs, tagged with the
/// job's id and attempt, and ASP.NET Core's request spans. Exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is
/// set (the exporter reads the standard OTEL_* variables); without it no span is recorded and nothing is spent on them.
/// </summary>
public static class ServiceTracing
{
    public const string SourceName = "LoraService";
    public const string AttemptSpan = "job.attempt";
    public const string JobIdTag = "job.id";
    public const string AttemptTag = "job.attempt";
    public const string QueueTag = "job.queue";
    public const string WorkerTag = "job.worker";
    public const string OutcomeTag = "job.outcome";
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The span of one attempt; null when nothing listens.</summary>
    public static Activity? StartAttempt(Guid jobId, int attempt, string queue, string worker) =>
        Source.StartActivity(AttemptSpan, ActivityKind.Internal, parentContext: default, tags:
        [
            new(JobIdTag, jobId.ToString()),
            new(AttemptTag, attempt),
            new(QueueTag, queue),
            new(WorkerTag, worker),
        ]);

    public static IHostApplicationBuilder AddServiceTracing(this IHostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointVariable])) return builder;
        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
            .AddSource(SourceName)
            .AddAspNetCoreInstrumentation()
            .AddOtlpExporter());
        return builder;
    }
}
