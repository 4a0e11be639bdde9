namespace LoraService.Domain.Jobs;

/// <summary>
/// One attempt at a job: which worker held it and from when to when, and how it ended. The attempt number is the
/// job's fencing token; metric points carry it, so who wrote what can always be checked against this record.
/// </summary>
public sealed class JobAttempt
{
    public long Id { get; init; }
    public Guid JobId { get; init; }
    public int Attempt { get; init; }
    public required string WorkerId { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; set; }
    /// <summary>succeeded, failed, cancelled, no_steps, handed_back, crashed, out_of_memory, hung or lost.</summary>
    public string? Outcome { get; set; }
    public string? Detail { get; set; }

    public void End(string outcome, string? detail, DateTimeOffset now)
    {
        EndedAt ??= now;
        Outcome ??= outcome;
        Detail ??= detail;
    }
}
