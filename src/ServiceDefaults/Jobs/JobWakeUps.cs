using Hangfire;
using Hangfire.States;
using LoraService.Domain.Jobs;

namespace LoraService.ServiceDefaults.Jobs;

/// <summary>
/// Wakes a worker of a queue for a queued job. A wake-up carries only the job id and is idempotent: the worker that
/// fetches it claims the job if it is still queued (then drains the queue), and does nothing otherwise. The job row
/// stays the truth; a lost or duplicated wake-up can delay a job but never lose or double-run it.
/// </summary>
public sealed class JobWakeUps(IBackgroundJobClient client)
{
    public string WakeUp(Guid jobId, string queue) =>
        client.Create<ITrainingJobRunner>(runner => runner.Run(jobId, CancellationToken.None), new EnqueuedState(queue));
}
