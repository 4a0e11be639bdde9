using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;

namespace LoraService.Domain.Tests;

public sealed class JobLifecycleTests
{
    private static FineTuneJob NewJob() => new() { Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };

    [Fact]
    public void A_job_runs_and_succeeds_with_timestamps()
    {
        var job = NewJob();
        var start = DateTimeOffset.UtcNow;
        job.MoveTo(JobStatus.Running, start);
        job.MoveTo(JobStatus.Succeeded, start.AddMinutes(1));
        Assert.Equal((start, start.AddMinutes(1)), (job.StartedAt, job.FinishedAt));
    }

    [Theory]
    [InlineData(JobStatus.Succeeded, JobStatus.Running)]
    [InlineData(JobStatus.Cancelled, JobStatus.Running)]
    [InlineData(JobStatus.Failed, JobStatus.Running)]
    [InlineData(JobStatus.Cancelling, JobStatus.Succeeded)]
    [InlineData(JobStatus.Cancelling, JobStatus.Queued)]
    [InlineData(JobStatus.Queued, JobStatus.Succeeded)]
    [InlineData(JobStatus.Queued, JobStatus.Cancelling)]
    public void Illegal_moves_are_refused(JobStatus from, JobStatus to)
    {
        Assert.False(JobLifecycle.CanMove(from, to));
    }

    [Fact]
    public void A_cancel_passes_through_cancelling()
    {
        var job = NewJob();
        job.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow);
        job.MoveTo(JobStatus.Cancelling, DateTimeOffset.UtcNow);
        Assert.Null(job.FinishedAt);
        job.MoveTo(JobStatus.Cancelled, DateTimeOffset.UtcNow);
        Assert.NotNull(job.FinishedAt);
        Assert.Throws<InvalidJobTransitionException>(() => job.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Failing_records_the_reason()
    {
        var job = NewJob();
        job.Fail("model_not_found", "no such model", DateTimeOffset.UtcNow);
        Assert.Equal((JobStatus.Failed, "model_not_found"), (job.Status, job.ErrorCode));
    }

    [Fact]
    public void A_claim_takes_a_lease_and_a_requeue_gives_it_back()
    {
        var job = NewJob();
        var now = DateTimeOffset.UtcNow;
        job.Claim("w1", TimeSpan.FromSeconds(30), now);
        Assert.Equal((JobStatus.Running, "w1", 1, now.AddSeconds(30)), (job.Status, job.WorkerId, job.Attempt, job.LeaseExpiresAt));
        job.Requeue(now.AddSeconds(5));
        Assert.Equal((JobStatus.Queued, (DateTimeOffset?)null, now.AddSeconds(5)), (job.Status, job.LeaseExpiresAt, job.QueuedAt));
        job.Claim("w2", TimeSpan.FromSeconds(30), now.AddSeconds(6));
        Assert.Equal(2, job.Attempt);
    }

    [Fact]
    public void A_failed_job_can_be_retried_with_a_fresh_attempt_budget_and_wall_time_allowance()
    {
        var job = NewJob();
        job.Claim("w", TimeSpan.FromSeconds(30), DateTimeOffset.UtcNow);
        job.FailedAttempts = 3;
        job.Fail("worker_lost", "gone", DateTimeOffset.UtcNow);
        Assert.True(JobLifecycle.IsTerminal(job.Status));
        job.Retry(DateTimeOffset.UtcNow);
        Assert.Equal((JobStatus.Queued, 0, (string?)null, (DateTimeOffset?)null), (job.Status, job.FailedAttempts, job.ErrorCode, job.FinishedAt));
        // max_wall_time counts from StartedAt: the retried run starts its own.
        Assert.Null(job.StartedAt);
        var restart = DateTimeOffset.UtcNow.AddMinutes(1);
        job.Claim("w", TimeSpan.FromSeconds(30), restart);
        Assert.Equal(restart, job.StartedAt);
    }
}
