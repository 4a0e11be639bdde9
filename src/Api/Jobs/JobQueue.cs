using Hangfire;
using Hangfire.States;
using LoraService.Domain.Jobs;

namespace LoraService.Api.Jobs;

/// <summary>Section "Jobs": which Hangfire queue new jobs go to ("cpu" for the embedded default, "gpu" on GPU hosts).</summary>
internal sealed record JobQueueOptions
{
    public const string Section = "Jobs";
    public string Queue { get; init; } = "cpu";
}

/// <summary>Hands a stored job to the workers. Only the id travels; the worker reads the spec from the row.</summary>
internal sealed class JobQueue(IBackgroundJobClient client, JobQueueOptions options)
{
    public string Queue => options.Queue;

    public string Enqueue(Guid jobId) =>
        client.Create<ITrainingJobRunner>(runner => runner.Run(jobId, CancellationToken.None), new EnqueuedState(options.Queue));
}
