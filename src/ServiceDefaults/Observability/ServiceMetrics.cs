using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace LoraService.ServiceDefaults.Observability;

/// <summary>
/// The service's own instruments (meter "LoraService") and the OpenTelemetry setup that serves them, with ASP.NET Core's
/// HTTP request durations, on /metrics for Prometheus. Names below are OpenTelemetry's; Prometheus sees them with
/// underscores and unit suffixes (lora_job_duration_seconds, lora_dataset_upload_bytes_total, ...).
/// </summary>
public static class ServiceMetrics
{
    public const string MeterName = "LoraService";
    public const string Path = "/metrics";
    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> UploadBytes =
        Meter.CreateCounter<long>("lora.dataset.upload", "By", "Bytes of dataset uploads that were accepted");
    public static readonly Counter<long> ValidationErrors =
        Meter.CreateCounter<long>("lora.dataset.validation_errors", "{error}", "Invalid lines found in rejected dataset uploads");
    public static readonly Counter<long> JobsCreated =
        Meter.CreateCounter<long>("lora.jobs.created", "{job}", "Jobs created (dry runs and idempotent replays excluded)");
    public static readonly Counter<long> JobsFinished =
        Meter.CreateCounter<long>("lora.jobs.finished", "{job}", "Attempts a worker ended, by the job's resulting status");
    public static readonly Histogram<double> JobDuration =
        Meter.CreateHistogram<double>("lora.job.duration", "s", "From a job's start to its end (succeeded, failed, cancelled), as its worker ended it");
    public static readonly Counter<long> TrainSteps =
        Meter.CreateCounter<long>("lora.train.steps", "{step}", "Optimizer steps run, per worker");
    public static readonly Histogram<double> StepTime =
        Meter.CreateHistogram<double>("lora.train.step.duration", "s", "Wall time of one optimizer step, per worker");
    public static readonly Histogram<double> EvaluationTime =
        Meter.CreateHistogram<double>("lora.eval.duration", "s", "Wall time of one evaluation (every target, source and validation set at a step), per worker");
    public static readonly Gauge<double> TokensPerSecond =
        Meter.CreateGauge<double>("lora.train.tokens_per_second", "{token}/s", "Training throughput of the latest step, per worker");

    /// <summary>An observable gauge on the service's meter (e.g. jobs by status, read by a poller).</summary>
    public static ObservableGauge<long> Gauge(string name, string unit, string description, Func<IEnumerable<Measurement<long>>> observe) =>
        Meter.CreateObservableGauge(name, observe, unit, description);

    public static IHostApplicationBuilder AddServiceMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(MeterName)
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter());
        return builder;
    }
}
