namespace LoraService.Domain.Jobs;

/// <summary>The queue contract: the API enqueues <c>Run(jobId)</c>; a worker implements it. Pass ids, never specs.</summary>
public interface ITrainingJobRunner
{
    void Run(Guid jobId, CancellationToken cancellationToken);
}
