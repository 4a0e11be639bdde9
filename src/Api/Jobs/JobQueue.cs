using LoraService.ServiceDefaults.Jobs;

namespace LoraService.Api.Jobs;

/// <summary>Section "Jobs": which Hangfire queue new jobs go to ("cpu" for the embedded default, "gpu" on GPU hosts).</summary>
internal sealed record JobQueueOptions
{
    public const string Section = "Jobs";
    public string Queue { get; init; } = "cpu";
}

/// <summary>Hands a stored job to the workers of its queue. Only a wake-up travels; the worker reads the job from its row.</summary>
internal sealed class JobQueue(JobWakeUps wakeUps, JobQueueOptions options)
{
    public string Queue => options.Queue;

    public string Enqueue(Guid jobId, string queue) => wakeUps.WakeUp(jobId, queue);
}
