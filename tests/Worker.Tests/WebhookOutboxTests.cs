using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Tenants;
using LoraService.Domain.Webhooks;
using LoraService.TestSupport;
using LoraService.Worker.Jobs;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.Worker.Tests;

/// <summary>Webhook outbox rows commit with the writes they report, and only with them (real PostgreSQL).</summary>
public sealed class WebhookOutboxTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync();
        _dataSource = NpgsqlDataSource.Create(_database.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _database.DisposeAsync();
    }

    private async Task<FineTuneJob> ClaimedJobAsync()
    {
        await using var db = _database.CreateContext();
        var tenant = new Tenant { Name = "t-" + Guid.NewGuid().ToString("N")[..6] };
        var job = new FineTuneJob { TenantId = tenant.Id, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        db.AddRange(tenant, job);
        await db.SaveChangesAsync();
        return (await new JobClaimer(db, new WorkerIdentity("w1", "cpu"), new WorkerOptions()).TryClaimNextAsync(["cpu"], CancellationToken.None))!;
    }

    private async Task<List<WebhookEvent>> EventsAsync(Guid jobId)
    {
        await using var db = _database.CreateContext();
        return await db.WebhookEvents.Where(e => e.JobId == jobId).OrderBy(e => e.CreatedAt).ThenBy(e => e.Id).ToListAsync();
    }

    [Fact]
    public async Task A_claim_writes_job_running_and_a_rolled_back_change_writes_nothing()
    {
        var job = await ClaimedJobAsync();
        var running = Assert.Single(await EventsAsync(job.Id));
        Assert.Equal((WebhookEventTypes.Running, "Running", job.TenantId), (running.Type, running.JobStatus, running.TenantId));

        await using (var db = _database.CreateContext())
        {
            await using var transaction = await db.Database.BeginTransactionAsync();
            var row = await db.Jobs.SingleAsync(j => j.Id == job.Id);
            row.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
            await db.SaveChangesAsync();
            await transaction.RollbackAsync();
        }
        Assert.Single(await EventsAsync(job.Id));

        // A save that changes no status (progress, heartbeat) raises nothing.
        await using (var db = _database.CreateContext())
        {
            var row = await db.Jobs.SingleAsync(j => j.Id == job.Id);
            row.Progress = new JobProgress { Step = 3 };
            await db.SaveChangesAsync();
        }
        Assert.Single(await EventsAsync(job.Id));
    }

    [Fact]
    public async Task An_evaluation_and_a_budget_crossing_are_written_with_their_points_and_only_while_the_lease_is_held()
    {
        var job = await ClaimedJobAsync();
        var lease = new JobLease(_dataSource, job.Id, job.TenantId, job.Attempt, "w1");
        var metrics = new MetricWriter(lease);
        metrics.Add("eval/source/" + Guid.NewGuid() + "/loss", 4, 1.5);
        metrics.AddEvaluated(4);
        Assert.True(await metrics.FlushAsync());
        Assert.True(await lease.AddEventAsync("warning", "Forgetting budget crossed: 0.3 > 0.2", new { step = 4 }, AttemptEventTypesName, CancellationToken.None,
            WebhookEventTypes.ForgettingBudgetExceeded));

        var events = (await EventsAsync(job.Id)).Skip(1).ToList();
        Assert.Equal([WebhookEventTypes.Evaluated, WebhookEventTypes.ForgettingBudgetExceeded], events.Select(e => e.Type));
        Assert.Equal(4, JsonDocument.Parse(events[0].Details!).RootElement.GetProperty("step").GetInt32());
        var budget = JsonDocument.Parse(events[1].Details!).RootElement;
        Assert.Equal(4, budget.GetProperty("step").GetInt32());
        Assert.Contains("0.3 > 0.2", budget.GetProperty("message").GetString());
        await using (var db = _database.CreateContext())
            Assert.Equal(1, await db.MetricPoints.CountAsync(p => p.JobId == job.Id));

        // Another worker took the job over: the stale attempt's evaluation writes neither points nor an event.
        await using (var command = _dataSource.CreateCommand("UPDATE jobs SET attempt = attempt + 1, worker_id = 'w2' WHERE id = @id"))
        {
            command.Parameters.AddWithValue("id", job.Id);
            await command.ExecuteNonQueryAsync();
        }
        metrics.Add("eval/source/" + Guid.NewGuid() + "/loss", 8, 1.7);
        metrics.AddEvaluated(8);
        Assert.False(await metrics.FlushAsync());
        Assert.False(await lease.AddEventAsync("warning", "late", new { step = 8 }, AttemptEventTypesName, CancellationToken.None, WebhookEventTypes.ForgettingBudgetExceeded));
        Assert.Equal(3, (await EventsAsync(job.Id)).Count);
        await using (var db = _database.CreateContext())
            Assert.Equal(1, await db.MetricPoints.CountAsync(p => p.JobId == job.Id));
    }

    private const string AttemptEventTypesName = Contracts.Attempts.AttemptEventTypes.ForgettingBudgetExceeded;
}
