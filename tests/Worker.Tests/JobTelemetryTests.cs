using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Tenants;
using LoraService.ServiceDefaults.Jobs;
using LoraService.ServiceDefaults.Observability;
using LoraService.TestSupport;
using LoraService.Training.Models;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace LoraService.Worker.Tests;

/// <summary>
/// A real job on an in-process worker (Hangfire wake-up, the attempt's child process, real TorchSharp on a tiny model):
/// its attempt is one <c>job.attempt</c> span tagged with the job, and every log line of it carries the job's id,
/// the child's relayed output included; its evaluations are timed on /metrics.
/// </summary>
public sealed class JobTelemetryTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private readonly string _data = Directory.CreateTempSubdirectory("lora-telemetry-").FullName;

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync();

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }

    private sealed class CapturingSink : ILogEventSink
    {
        public readonly ConcurrentQueue<LogEvent> Events = new();
        public void Emit(LogEvent logEvent) => Events.Enqueue(logEvent);
    }

    private async Task<Guid> SeedJobAsync()
    {
        ModelFactory.WriteCheckpoint(Path.Combine(_data, "models", "tiny"), ModelFactory.TinyLlama(), seed: 1);
        var datasetKey = "datasets/train.jsonl";
        Directory.CreateDirectory(Path.Combine(_data, "artifacts", "datasets"));
        File.WriteAllLines(Path.Combine(_data, "artifacts", datasetKey),
            Enumerable.Range(0, 16).Select(i => JsonSerializer.Serialize(new { prompt = $"Q{i % 8}:", completion = $" #### {2 * (i % 8)}" })));

        await using var db = _database.CreateContext();
        var tenant = new Tenant { Name = "telemetry" };
        var dataset = new Dataset { TenantId = tenant.Id, Name = "train", Format = "prompt_completion", Rows = 16, Sha256 = "n/a", StorageKey = datasetKey };
        var job = new FineTuneJob
        {
            TenantId = tenant.Id,
            Queue = "cpu",
            Spec = new JobSpec
            {
                BaseModel = "tiny",
                Method = FineTuneMethod.Lora,
                TrainingDataset = dataset.Id.ToString(),
                ValidationDataset = dataset.Id.ToString(),
                Evaluation = new EvaluationSettings { MaxExamples = 4 },
                Lora = new LoraSettings { Rank = 2 },
                Hyperparameters = new Hyperparameters { LearningRate = 1e-2, MaxSteps = 2, BatchSize = 4, MicroBatchSize = 4, MaxSequenceLength = 32 },
                CheckpointEvery = 1,
                ExportMerged = false,
            },
        };
        db.AddRange(tenant, dataset, job);
        await db.SaveChangesAsync();
        return job.Id;
    }

    [Fact]
    public async Task A_job_attempt_is_a_span_with_the_job_id_and_every_log_line_of_it_carries_the_id()
    {
        var jobId = await SeedJobAsync();
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ServiceTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var logs = new CapturingSink();
        await using var worker = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("ConnectionStrings:Postgres", _database.ConnectionString);
            builder.UseSetting("Worker:Device", "cpu");
            builder.UseSetting("Worker:Name", "telemetry-worker");
            builder.UseSetting("Lora:ModelsPath", Path.Combine(_data, "models"));
            builder.UseSetting("Lora:ArtifactsPath", Path.Combine(_data, "artifacts"));
            builder.ConfigureServices(services => services.AddSingleton<ILogEventSink>(logs));
        });
        worker.Services.GetRequiredService<JobWakeUps>().WakeUp(jobId, "cpu");

        var status = JobStatus.Queued;
        for (var i = 0; i < 240 && status is not (JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled); i++)
        {
            await Task.Delay(250);
            await using var db = _database.CreateContext();
            status = await db.Jobs.Where(j => j.Id == jobId).Select(j => j.Status).SingleAsync();
        }
        Assert.True(status == JobStatus.Succeeded, $"job ended {status}:\n{string.Join("\n", logs.Events.Select(e => e.RenderMessage()))}");

        // The span ends just after the job's end is committed.
        bool IsAttemptSpan(Activity s) => s.OperationName == ServiceTracing.AttemptSpan && Equals(s.GetTagItem(ServiceTracing.JobIdTag), jobId.ToString());
        for (var i = 0; i < 100 && !spans.Any(IsAttemptSpan); i++) await Task.Delay(100);
        var span = Assert.Single(spans, IsAttemptSpan);
        Assert.Equal(1, span.GetTagItem(ServiceTracing.AttemptTag));
        Assert.Equal("cpu", span.GetTagItem(ServiceTracing.QueueTag));
        Assert.Equal("telemetry-worker", span.GetTagItem(ServiceTracing.WorkerTag));
        Assert.Equal("completed", span.GetTagItem(ServiceTracing.OutcomeTag));
        Assert.NotEqual(ActivityStatusCode.Error, span.Status);

        bool OfThisJob(LogEvent e) => e.Properties.TryGetValue(JobLogScope.JobIdProperty, out var id) && id is ScalarValue { Value: Guid g } && g == jobId;
        var events = logs.Events.ToList();
        var mentioning = events.Where(e => e.RenderMessage().Contains(jobId.ToString(), StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(mentioning);
        Assert.All(mentioning, e => Assert.True(OfThisJob(e), $"no JobId on: {e.RenderMessage()}"));
        // The child's own output (its engine log lines on stderr), relayed by the worker, carries the id too.
        var relayed = events.Where(e => e.MessageTemplate.Text.StartsWith("[attempt {Pid}]", StringComparison.Ordinal)).ToList();
        Assert.Contains(relayed, e => e.RenderMessage().Contains("Completed 2 steps", StringComparison.Ordinal));
        Assert.All(relayed, e => Assert.True(OfThisJob(e), $"no JobId on: {e.RenderMessage()}"));
        Assert.All(relayed, e => Assert.Equal(1, ((ScalarValue)e.Properties[JobLogScope.AttemptProperty]).Value));
        // Log lines of the attempt are correlated with its span.
        var ended = Assert.Single(events, e => OfThisJob(e) && e.MessageTemplate.Text.Contains("ended {Outcome}", StringComparison.Ordinal));
        Assert.Equal(span.TraceId, ended.TraceId);

        // Evaluation time per worker on /metrics: the baseline and the final evaluation.
        var metrics = await worker.CreateClient().GetStringAsync("/metrics");
        var evaluations = metrics.Split('\n').Single(l => l.StartsWith("lora_eval_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("worker=\"telemetry-worker\"", StringComparison.Ordinal));
        Assert.Equal(2, double.Parse(evaluations.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture));

        // The console shows the job in front of each such line.
        var console = new StringWriter();
        new MessageTemplateTextFormatter(ServiceDefaults.Extensions.ConsoleTemplate).Format(ended, console);
        Assert.True(console.ToString().Contains($"] job {jobId}#1 Job \"{jobId}\": attempt 1 ended completed", StringComparison.Ordinal), console.ToString());
    }
}
