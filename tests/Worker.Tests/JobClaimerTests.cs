using LoraService.Domain.Jobs;
using LoraService.Domain.Tenants;
using LoraService.TestSupport;
using LoraService.Worker.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace LoraService.Worker.Tests;

public sealed class JobClaimerTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private static readonly WorkerOptions Options = new() { StaleAfterSeconds = 30, MaxAttempts = 3 };

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync();

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private async Task<Guid> SeedAsync(Action<FineTuneJob>? arrange = null)
    {
        await using var db = _database.CreateContext();
        var tenant = new Tenant { Name = "t-" + Guid.NewGuid().ToString("N")[..6] };
        var job = new FineTuneJob { TenantId = tenant.Id, Spec = new FineTuneSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid() } };
        arrange?.Invoke(job);
        db.AddRange(tenant, job);
        await db.SaveChangesAsync();
        return job.Id;
    }

    private async Task<FineTuneJob?> ClaimAsync(Guid id, string worker)
    {
        await using var db = _database.CreateContext();
        return await new JobClaimer(db, new WorkerIdentity(worker, "cpu"), Options, NullLogger<JobClaimer>.Instance).TryClaimAsync(id, CancellationToken.None);
    }

    [Fact]
    public async Task Two_workers_claiming_at_once_get_the_job_exactly_once()
    {
        var id = await SeedAsync();
        var claims = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => ClaimAsync(id, $"w{i}")));
        Assert.Single(claims, c => c is not null);
        await using var db = _database.CreateContext();
        var row = await db.Jobs.SingleAsync(j => j.Id == id);
        Assert.Equal((JobStatus.Running, 1), (row.Status, row.Attempt));
    }

    [Fact]
    public async Task A_running_job_with_a_fresh_heartbeat_is_left_alone_and_a_stale_one_is_taken_over()
    {
        var id = await SeedAsync();
        Assert.NotNull(await ClaimAsync(id, "first"));
        Assert.Null(await ClaimAsync(id, "second"));

        await using (var db = _database.CreateContext())
        {
            var job = await db.Jobs.SingleAsync(j => j.Id == id);
            job.HeartbeatAt = DateTimeOffset.UtcNow.AddMinutes(-5);
            await db.SaveChangesAsync();
        }
        var taken = await ClaimAsync(id, "second");
        Assert.Equal(("second", 2), (taken!.WorkerId, taken.Attempt));
    }

    [Fact]
    public async Task A_job_whose_workers_keep_dying_fails_instead_of_looping()
    {
        var id = await SeedAsync(j => { j.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow); j.Attempt = 3; j.WorkerId = "dead"; j.HeartbeatAt = DateTimeOffset.UtcNow.AddHours(-1); });
        Assert.Null(await ClaimAsync(id, "next"));
        await using var db = _database.CreateContext();
        var job = await db.Jobs.SingleAsync(j => j.Id == id);
        Assert.Equal((JobStatus.Failed, "worker_lost"), (job.Status, job.ErrorCode));
    }

    [Fact]
    public async Task Cancelled_or_finished_jobs_are_not_started()
    {
        var cancelled = await SeedAsync(j => j.MoveTo(JobStatus.Cancelled, DateTimeOffset.UtcNow));
        Assert.Null(await ClaimAsync(cancelled, "w"));
        var cancelling = await SeedAsync(j => { j.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow); j.MoveTo(JobStatus.Cancelling, DateTimeOffset.UtcNow); });
        Assert.Null(await ClaimAsync(cancelling, "w"));
        await using var db = _database.CreateContext();
        Assert.Equal(JobStatus.Cancelled, (await db.Jobs.SingleAsync(j => j.Id == cancelling)).Status);
    }
}
