using LoraService.Domain.Jobs;

namespace LoraService.Domain.Tests;

public sealed class JobLifecycleTests
{
    private static FineTuneJob NewJob() => new() { Spec = new FineTuneSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid() } };

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
    [InlineData(JobStatus.Failed, JobStatus.Queued)]
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
}
