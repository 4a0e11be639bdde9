using System.Text.Json;
using System.Text.Json.Serialization;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace LoraService.Domain.Persistence;

internal sealed class TenantConfiguration : IEntityTypeConfiguration<Tenant>
{
    public void Configure(EntityTypeBuilder<Tenant> b)
    {
        b.Property(t => t.Name).HasMaxLength(200);
        b.HasIndex(t => t.Name).IsUnique();
    }
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.Property(k => k.Name).HasMaxLength(200);
        b.Property(k => k.Prefix).HasMaxLength(32);
        b.Property(k => k.Hash).HasMaxLength(64);
        b.HasIndex(k => k.Prefix).IsUnique();
        b.HasOne(k => k.Tenant).WithMany().HasForeignKey(k => k.TenantId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class DatasetConfiguration : IEntityTypeConfiguration<Dataset>
{
    public void Configure(EntityTypeBuilder<Dataset> b)
    {
        b.Property(d => d.Name).HasMaxLength(200);
        b.Property(d => d.Format).HasMaxLength(32);
        b.Property(d => d.Sha256).HasMaxLength(64);
        b.HasOne<Tenant>().WithMany().HasForeignKey(d => d.TenantId).OnDelete(DeleteBehavior.Restrict);
        b.HasIndex(d => new { d.TenantId, d.Id });
    }
}

internal sealed class BaseModelConfiguration : IEntityTypeConfiguration<BaseModel>
{
    public void Configure(EntityTypeBuilder<BaseModel> b)
    {
        b.Property(m => m.Name).HasMaxLength(200);
        b.Property(m => m.Architecture).HasMaxLength(100);
        b.Property(m => m.Dtype).HasMaxLength(16);
        b.Property(m => m.ChatTemplate).HasMaxLength(32);
        b.Property(m => m.ParentModel).HasMaxLength(200);
        b.HasIndex(m => m.Name).IsUnique();
        b.HasOne<Tenant>().WithMany().HasForeignKey(m => m.OwnerTenantId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class FineTuneJobConfiguration : IEntityTypeConfiguration<FineTuneJob>
{
    // Enum names, not numbers, so a stored spec reads the same to a person; numbers from older rows still parse.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public void Configure(EntityTypeBuilder<FineTuneJob> b)
    {
        b.ToTable("jobs");
        b.Property(j => j.Name).HasMaxLength(200);
        b.Property(j => j.Status).HasConversion<string>().HasMaxLength(16);
        b.Property(j => j.IdempotencyKey).HasMaxLength(200);
        b.Property(j => j.ErrorCode).HasMaxLength(64);
        b.Property(j => j.WorkerId).HasMaxLength(200);
        b.Property(j => j.QueueJobId).HasMaxLength(64);
        b.Property(j => j.Queue).HasMaxLength(64);
        b.Property(j => j.Spec).HasColumnType("jsonb").HasConversion(
            spec => JsonSerializer.Serialize(spec, Json),
            json => JsonSerializer.Deserialize<JobSpec>(json, Json)!,
            new ValueComparer<JobSpec>((x, y) => Equals(x, y), s => s.GetHashCode(), s => s));
        b.Property(j => j.Progress).HasColumnType("jsonb").HasConversion(
            progress => JsonSerializer.Serialize(progress, Json),
            json => JsonSerializer.Deserialize<JobProgress>(json, Json)!,
            new ValueComparer<JobProgress>((x, y) => Equals(x, y), p => p.GetHashCode(), p => p));
        b.Property(j => j.Version).IsRowVersion();
        b.HasOne<Tenant>().WithMany().HasForeignKey(j => j.TenantId).OnDelete(DeleteBehavior.Restrict);
        b.HasIndex(j => new { j.TenantId, j.Status, j.CreatedAt });
        b.HasIndex(j => new { j.TenantId, j.IdempotencyKey }).IsUnique().HasFilter("idempotency_key IS NOT NULL");
        // The claim (oldest queued job of a queue) and the reaper (held jobs whose lease expired) read these.
        b.HasIndex(j => new { j.Status, j.Queue, j.QueuedAt });
        b.HasIndex(j => new { j.Status, j.LeaseExpiresAt });
    }
}

internal sealed class JobAttemptConfiguration : IEntityTypeConfiguration<JobAttempt>
{
    public void Configure(EntityTypeBuilder<JobAttempt> b)
    {
        b.Property(a => a.WorkerId).HasMaxLength(200);
        b.Property(a => a.Outcome).HasMaxLength(32);
        b.HasOne<FineTuneJob>().WithMany().HasForeignKey(a => a.JobId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(a => new { a.JobId, a.Attempt }).IsUnique();
    }
}

internal sealed class JobEventConfiguration : IEntityTypeConfiguration<JobEvent>
{
    public void Configure(EntityTypeBuilder<JobEvent> b)
    {
        b.Property(e => e.Level).HasMaxLength(16);
        b.Property(e => e.Type).HasMaxLength(32);
        b.Property(e => e.Data).HasColumnType("jsonb");
        b.HasOne<FineTuneJob>().WithMany().HasForeignKey(e => e.JobId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(e => new { e.JobId, e.Id });
    }
}

internal sealed class MetricPointConfiguration : IEntityTypeConfiguration<MetricPoint>
{
    public void Configure(EntityTypeBuilder<MetricPoint> b)
    {
        b.Property(m => m.Name).HasMaxLength(200);
        b.HasOne<FineTuneJob>().WithMany().HasForeignKey(m => m.JobId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(m => new { m.JobId, m.Name, m.Step }).IsUnique();
        b.HasIndex(m => new { m.JobId, m.Step });
    }
}

internal sealed class EvaluationSampleConfiguration : IEntityTypeConfiguration<EvaluationSample>
{
    public void Configure(EntityTypeBuilder<EvaluationSample> b)
    {
        b.Property(s => s.Role).HasMaxLength(20);
        b.Property(s => s.DatasetName).HasMaxLength(200);
        b.HasOne<FineTuneJob>().WithMany().HasForeignKey(s => s.JobId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(s => new { s.JobId, s.Step, s.Role, s.DatasetId, s.Index }).IsUnique();
    }
}

internal sealed class JobCheckpointConfiguration : IEntityTypeConfiguration<JobCheckpoint>
{
    public void Configure(EntityTypeBuilder<JobCheckpoint> b)
    {
        b.ToTable("checkpoints");
        b.Property(c => c.Metrics).HasColumnType("jsonb");
        b.HasOne<FineTuneJob>().WithMany().HasForeignKey(c => c.JobId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(c => new { c.JobId, c.Step }).IsUnique();
    }
}

internal sealed class ArtifactConfiguration : IEntityTypeConfiguration<Artifact>
{
    public void Configure(EntityTypeBuilder<Artifact> b)
    {
        b.Property(a => a.Kind).HasMaxLength(32);
        b.Property(a => a.FileName).HasMaxLength(255);
        b.Property(a => a.ContentType).HasMaxLength(100);
        b.Property(a => a.Sha256).HasMaxLength(64);
        b.HasOne<FineTuneJob>().WithMany().HasForeignKey(a => a.JobId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(a => new { a.JobId, a.Kind });
    }
}
