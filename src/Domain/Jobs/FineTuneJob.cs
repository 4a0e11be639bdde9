using LoraService.Contracts.Jobs;
namespace LoraService.Domain.Jobs;

/// <summary>One training run. <see cref="Version"/> maps to PostgreSQL's xmin for optimistic concurrency.</summary>
public sealed class FineTuneJob : ITenantOwned
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid TenantId { get; init; }
    public string? Name { get; set; }
    public List<string> Tags { get; set; } = [];
    public required JobSpec Spec { get; init; }
    public JobStatus Status { get; private set; } = JobStatus.Queued;
    /// <summary>Client-chosen key that makes a retried POST return this job instead of a second one.</summary>
    public string? IdempotencyKey { get; init; }
    public string? QueueJobId { get; set; }
    /// <summary>The Hangfire queue whose workers may run the job (cpu, gpu).</summary>
    public string Queue { get; init; } = "cpu";
    /// <summary>When the job last became queued (created, handed back, taken from a dead worker, retried).</summary>
    public DateTimeOffset QueuedAt { get; private set; } = DateTimeOffset.UtcNow;
    /// <summary>When the reaper last sent a wake-up for this queued job.</summary>
    public DateTimeOffset? WokenAt { get; set; }
    /// <summary>The lease holder: the worker running the current attempt (or the last one).</summary>
    public string? WorkerId { get; set; }
    /// <summary>The fencing token: every write for the job carries it, and only the current attempt's writes land.</summary>
    public int Attempt { get; set; }
    /// <summary>Until when the holder's lease is valid; its heartbeat renews it. Null when nobody holds the job.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }
    /// <summary>Attempts that ended abnormally (worker lost, crash, out of memory, hang) since creation or the last retry.</summary>
    public int FailedAttempts { get; set; }
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
        if (JobLifecycle.IsTerminal(next))
        {
            FinishedAt = now;
            LeaseExpiresAt = null;
        }
    }

    /// <summary>Gives the job to <paramref name="worker"/> as a new attempt under a lease.</summary>
    public void Claim(string worker, TimeSpan lease, DateTimeOffset now)
    {
        MoveTo(JobStatus.Running, now);
        WorkerId = worker;
        Attempt++;
        HeartbeatAt = now;
        LeaseExpiresAt = now + lease;
    }

    /// <summary>Back to the queue (resumes from its last checkpoint): a graceful stop, a lost worker, or a retry.</summary>
    public void Requeue(DateTimeOffset now)
    {
        MoveTo(JobStatus.Queued, now);
        LeaseExpiresAt = null;
        QueuedAt = now;
        WokenAt = null;
        FinishedAt = null;
    }

    /// <summary>
    /// An attempt ended abnormally (worker lost, crash, out of memory, hang): the job goes back to the queue to resume from
    /// its checkpoint, or fails with <paramref name="code"/> once its max_attempts such ends are reached (the message is
    /// given the count). True when it was re-queued.
    /// </summary>
    public bool EndAbnormalAttempt(string code, Func<int, string> failureMessage, DateTimeOffset now)
    {
        FailedAttempts++;
        if (FailedAttempts >= (Spec.MaxAttempts ?? JobDefaults.MaxAttempts))
        {
            Fail(code, failureMessage(FailedAttempts), now);
            return false;
        }
        Requeue(now);
        return true;
    }

    /// <summary>A failed job goes back to the queue as a new attempt with a fresh attempt budget.</summary>
    public void Retry(DateTimeOffset now)
    {
        Requeue(now);
        FailedAttempts = 0;
        // max_wall_time counts from the start: a retried job gets a fresh allowance.
        StartedAt = null;
        ErrorCode = null;
        ErrorMessage = null;
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
