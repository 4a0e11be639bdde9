using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Sweeps;
using LoraService.Domain.Tenants;
using LoraService.Domain.Webhooks;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Domain.Persistence;

public sealed class LoraDbContext(DbContextOptions<LoraDbContext> options) : DbContext(options)
{
    public DbSet<Tenant> Tenants => Set<Tenant>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Dataset> Datasets => Set<Dataset>();
    public DbSet<BaseModel> BaseModels => Set<BaseModel>();
    public DbSet<FineTuneJob> Jobs => Set<FineTuneJob>();
    public DbSet<JobEvent> JobEvents => Set<JobEvent>();
    public DbSet<JobAttempt> JobAttempts => Set<JobAttempt>();
    public DbSet<MetricPoint> MetricPoints => Set<MetricPoint>();
    public DbSet<EvaluationSample> EvaluationSamples => Set<EvaluationSample>();
    public DbSet<JobCheckpoint> Checkpoints => Set<JobCheckpoint>();
    public DbSet<Artifact> Artifacts => Set<Artifact>();
    public DbSet<Sweep> Sweeps => Set<Sweep>();
    public DbSet<SweepChild> SweepChildren => Set<SweepChild>();
    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();
    public DbSet<WebhookEvent> WebhookEvents => Set<WebhookEvent>();
    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    // Every job status change gets its webhook outbox row in the same SaveChanges, hence the same transaction.
    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        WebhookOutbox.AddStatusChangeEvents(ChangeTracker);
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        WebhookOutbox.AddStatusChangeEvents(ChangeTracker);
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(LoraDbContext).Assembly);
}
