using LoraService.Domain.Jobs;
using LoraService.Worker.Devices;

namespace LoraService.Worker.Jobs;

/// <summary>
/// What a wake-up from the queue does: claim the oldest queued job of this worker's queues, run it as one attempt in a
/// child process, and keep draining the queue until nothing is left or the worker stops. The wake-up's own job id only
/// says that something is queued. Hangfire's cancellation token is deliberately ignored: it also fires when another
/// server re-fetches the same wake-up, and that must never end a run this worker holds under a live lease; the
/// host's stopping token is what stops a run.
/// </summary>
internal sealed class TrainingJobRunner(
    IServiceScopeFactory scopes, AttemptRunner attempts, ComputeDevice device, WorkerOptions options,
    IHostApplicationLifetime lifetime, ILogger<TrainingJobRunner> logger) : ITrainingJobRunner
{
    public void Run(Guid jobId, CancellationToken cancellationToken) => RunAsync(jobId).GetAwaiter().GetResult();

    private async Task RunAsync(Guid wokenFor)
    {
        string[] queues = [device.Queue, .. options.ExtraQueues.Where(q => q != device.Queue)];
        while (!lifetime.ApplicationStopping.IsCancellationRequested)
        {
            FineTuneJob? job;
            await using (var scope = scopes.CreateAsyncScope())
                job = await scope.ServiceProvider.GetRequiredService<JobClaimer>().TryClaimNextAsync(queues, lifetime.ApplicationStopping);
            if (job is null)
            {
                logger.LogDebug("Woken for job {JobId}: nothing queued on {Queues}", wokenFor, string.Join(", ", queues));
                return;
            }
            await attempts.RunAsync(job);
        }
    }
}
