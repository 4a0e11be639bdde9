using LoraService.Domain.Jobs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

public sealed class OutputExpiryTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task With_expiry_on_the_background_service_deletes_old_finished_outputs_and_keeps_recent_ones()
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var old = await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Succeeded, finishedAt: DateTimeOffset.UtcNow.AddDays(-31));
        var oldFailed = await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Failed, finishedAt: DateTimeOffset.UtcNow.AddDays(-40));
        var recent = await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Succeeded, finishedAt: DateTimeOffset.UtcNow.AddDays(-29));
        var running = await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Running);

        // The default host has expiry off: nothing went.
        Assert.True(FinishedJobs.FolderBytes(factory, JobStorageKeys.Output(old.Id)) > 0);
        using var expiring = factory.WithWebHostBuilder(b => b.UseSetting("Retention:ExpireOutputsAfterDays", "30").UseSetting("Retention:SweepSeconds", "0.5"));
        expiring.CreateClient().Dispose();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (FinishedJobs.FolderBytes(factory, JobStorageKeys.Root(oldFailed.Id)) + FinishedJobs.FolderBytes(factory, JobStorageKeys.Root(old.Id)) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(200);

        await using var db = factory.Database.CreateContext();
        foreach (var gone in new[] { old, oldFailed })
        {
            Assert.Equal(0, FinishedJobs.FolderBytes(factory, JobStorageKeys.Root(gone.Id)));
            Assert.False(await db.Artifacts.AnyAsync(a => a.JobId == gone.Id));
            Assert.False(await db.Checkpoints.AnyAsync(c => c.JobId == gone.Id));
            Assert.True(await db.MetricPoints.AnyAsync(m => m.JobId == gone.Id));
            Assert.True(await db.JobEvents.AnyAsync(e => e.JobId == gone.Id && e.Type == "outputs_expired"));
        }
        foreach (var kept in new[] { recent, running })
        {
            Assert.True(FinishedJobs.FolderBytes(factory, JobStorageKeys.Output(kept.Id)) > 0);
            Assert.True(await db.Artifacts.AnyAsync(a => a.JobId == kept.Id));
        }
    }
}
