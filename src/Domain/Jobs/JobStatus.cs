namespace LoraService.Domain.Jobs;

public enum JobStatus
{
    Queued,
    Running,
    Cancelling,
    Succeeded,
    Failed,
    Cancelled,
}
