using LoraService.Domain.Jobs;
using LoraService.Domain.Sweeps;
using LoraService.Domain.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace LoraService.Domain.Persistence;

internal sealed class SweepConfiguration : IEntityTypeConfiguration<Sweep>
{
    public void Configure(EntityTypeBuilder<Sweep> b)
    {
        b.Property(s => s.Name).HasMaxLength(200);
        b.Property(s => s.BaseSpec).HasColumnType("jsonb");
        b.Property(s => s.Grid).HasColumnType("jsonb");
        b.HasOne<Tenant>().WithMany().HasForeignKey(s => s.TenantId).OnDelete(DeleteBehavior.Restrict);
        b.HasIndex(s => new { s.TenantId, s.CreatedAt });
    }
}

internal sealed class SweepChildConfiguration : IEntityTypeConfiguration<SweepChild>
{
    public void Configure(EntityTypeBuilder<SweepChild> b)
    {
        b.ToTable("sweep_children");
        // A job belongs to at most one sweep; deleting the job (DELETE /jobs/{id}) takes it out of its sweep.
        b.HasKey(c => c.JobId);
        b.Property(c => c.Coordinates).HasColumnType("jsonb");
        b.HasOne<Sweep>().WithMany().HasForeignKey(c => c.SweepId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<FineTuneJob>().WithMany().HasForeignKey(c => c.JobId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(c => new { c.SweepId, c.Index }).IsUnique();
    }
}
