using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Tenants;
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

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(LoraDbContext).Assembly);
}
