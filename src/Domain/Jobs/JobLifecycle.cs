namespace LoraService.Domain.Jobs;

/// <summary>queued → running → succeeded | failed | cancelled, with cancelling while a cancel is honoured.</summary>
public static class JobLifecycle
{
    private static readonly Dictionary<JobStatus, JobStatus[]> Allowed = new()
    {
        [JobStatus.Queued] = [JobStatus.Running, JobStatus.Cancelled, JobStatus.Failed],
        [JobStatus.Running] = [JobStatus.Running, JobStatus.Cancelling, JobStatus.Succeeded, JobStatus.Failed, JobStatus.Queued],
        [JobStatus.Cancelling] = [JobStatus.Cancelled, JobStatus.Failed, JobStatus.Succeeded],
        [JobStatus.Succeeded] = [],
        [JobStatus.Failed] = [],
        [JobStatus.Cancelled] = [],
    };

    public static bool IsTerminal(JobStatus status) => Allowed[status].Length == 0;

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
