namespace LoraService.Domain.Jobs;

/// <summary>One training run. <see cref="Version"/> maps to PostgreSQL's xmin for optimistic concurrency.</summary>
public sealed class FineTuneJob : ITenantOwned
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid TenantId { get; init; }
    public string? Name { get; set; }
    public List<string> Tags { get; set; } = [];
    public required FineTuneSpec Spec { get; init; }
    public JobStatus Status { get; private set; } = JobStatus.Queued;
    /// <summary>Client-chosen key that makes a retried POST return this job instead of a second one.</summary>
    public string? IdempotencyKey { get; init; }
    public string? QueueJobId { get; set; }
    public string? WorkerId { get; set; }
    public int Attempt { get; set; }
    public JobProgress Progress { get; set; } = new();
    public string? ErrorCode { get; private set; }
    public string? ErrorMessage { get; private set; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset? StartedAt { get; private set; }
    public DateTimeOffset? HeartbeatAt { get; set; }
    public DateTimeOffset? FinishedAt { get; private set; }
    public uint Version { get; private set; }

    public void MoveTo(JobStatus next, DateTimeOffset now)
    {
        JobLifecycle.EnsureCanMove(Status, next);
        Status = next;
        if (next == JobStatus.Running) StartedAt ??= now;
        if (JobLifecycle.IsTerminal(next)) FinishedAt = now;
    }

    public void Fail(string code, string message, DateTimeOffset now)
    {
        ErrorCode = code;
        ErrorMessage = message;
        MoveTo(JobStatus.Failed, now);
    }
}

/// <summary>Where a running job is; written by the worker as it trains.</summary>
public sealed record JobProgress
{
    public int Step { get; init; }
    public int TotalSteps { get; init; }
    public double Epoch { get; init; }
    public long TokensSeen { get; init; }
    public double? EtaSeconds { get; init; }
}
