namespace LoraService.Domain.Jobs;

/// <summary>
/// queued → running → succeeded | failed | cancelled, with cancelling while a cancel is honoured. A running job goes back
/// to queued when its worker stops or dies (it resumes from its checkpoint); a failed job can be retried. A cancel, once
/// accepted, always ends in cancelled: cancelling never becomes succeeded.
/// </summary>
public static class JobLifecycle
{
    private static readonly Dictionary<JobStatus, JobStatus[]> Allowed = new()
    {
        [JobStatus.Queued] = [JobStatus.Running, JobStatus.Cancelled, JobStatus.Failed],
        [JobStatus.Running] = [JobStatus.Running, JobStatus.Cancelling, JobStatus.Succeeded, JobStatus.Failed, JobStatus.Queued],
        [JobStatus.Cancelling] = [JobStatus.Cancelled],
        [JobStatus.Succeeded] = [],
        [JobStatus.Failed] = [JobStatus.Queued],
        [JobStatus.Cancelled] = [],
    };

    /// <summary>Finished: nothing runs it and nothing will unless a failed job is retried.</summary>
    public static bool IsTerminal(JobStatus status) => status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>Held by a worker under a lease.</summary>
    public static bool IsHeld(JobStatus status) => status is JobStatus.Running or JobStatus.Cancelling;

    public static bool CanMove(JobStatus from, JobStatus to) => Allowed[from].Contains(to);

    public static void EnsureCanMove(JobStatus from, JobStatus to)
    {
        if (!CanMove(from, to))
            throw new InvalidJobTransitionException(from, to);
    }
}

public sealed class InvalidJobTransitionException(JobStatus from, JobStatus to)
    : InvalidOperationException($"A job cannot move from {from} to {to}.")
{
    public JobStatus From { get; } = from;
    public JobStatus To { get; } = to;
}
