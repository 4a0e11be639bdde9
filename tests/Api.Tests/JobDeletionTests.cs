using System.Net;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

public sealed class JobDeletionTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private HttpClient Admin => factory.CreateClient(TestKeys.Admin);

    [Theory]
    [InlineData(JobStatus.Succeeded)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public async Task Deleting_a_finished_job_frees_its_bytes_and_removes_its_rows(JobStatus status)
    {
        var job = await FinishedJobs.SeedAsync(factory, await Seed.AdminTenantAsync(factory.Database), status);
        var before = FinishedJobs.FolderBytes(factory, JobStorageKeys.Work(job.Id)) + FinishedJobs.FolderBytes(factory, JobStorageKeys.Output(job.Id));
        Assert.Equal(2 * 4096 + 100 + 8192 + 200 + 300, before);

        var response = await Admin.DeleteAsync($"/api/v1/jobs/{job.Id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, FinishedJobs.FolderBytes(factory, JobStorageKeys.Work(job.Id)) + FinishedJobs.FolderBytes(factory, JobStorageKeys.Output(job.Id)));
        Assert.False(Directory.Exists(Path.Combine(factory.ArtifactsPath, JobStorageKeys.Root(job.Id))));
        await using var db = factory.Database.CreateContext();
        Assert.False(await db.Jobs.AnyAsync(j => j.Id == job.Id));
        Assert.False(await db.JobEvents.AnyAsync(e => e.JobId == job.Id));
        Assert.False(await db.MetricPoints.AnyAsync(m => m.JobId == job.Id));
        Assert.False(await db.Checkpoints.AnyAsync(c => c.JobId == job.Id));
        Assert.False(await db.JobAttempts.AnyAsync(a => a.JobId == job.Id));
        Assert.False(await db.Artifacts.AnyAsync(a => a.JobId == job.Id));

        // Idempotent for the client: the job is gone either way, and a second DELETE says so with a 404.
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.DeleteAsync($"/api/v1/jobs/{job.Id}")).StatusCode);
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Running)]
    public async Task An_unfinished_job_is_a_409_problem_and_keeps_everything(JobStatus status)
    {
        var job = await FinishedJobs.SeedAsync(factory, await Seed.AdminTenantAsync(factory.Database), status);

        var response = await Admin.DeleteAsync($"/api/v1/jobs/{job.Id}");

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(FinishedJobs.FolderBytes(factory, JobStorageKeys.Work(job.Id)) > 0);
        await using var db = factory.Database.CreateContext();
        Assert.True(await db.Jobs.AnyAsync(j => j.Id == job.Id));
    }

    [Fact]
    public async Task Another_tenants_job_is_a_404_and_stays()
    {
        var job = await FinishedJobs.SeedAsync(factory, await Seed.AdminTenantAsync(factory.Database), JobStatus.Succeeded);
        var (_, otherKey) = await Seed.OtherTenantAsync(factory);

        Assert.Equal(HttpStatusCode.NotFound, (await factory.CreateClient(otherKey).DeleteAsync($"/api/v1/jobs/{job.Id}")).StatusCode);
        Assert.True(FinishedJobs.FolderBytes(factory, JobStorageKeys.Output(job.Id)) > 0);
    }
}
