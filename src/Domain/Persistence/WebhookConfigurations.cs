using LoraService.Domain.Tenants;
using LoraService.Domain.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace LoraService.Domain.Persistence;

internal sealed class WebhookEndpointConfiguration : IEntityTypeConfiguration<WebhookEndpoint>
{
    public void Configure(EntityTypeBuilder<WebhookEndpoint> b)
    {
        b.Property(e => e.Url).HasMaxLength(2048);
        b.Property(e => e.Description).HasMaxLength(500);
        b.Property(e => e.Secret).HasMaxLength(128);
        b.Property(e => e.DisabledReason).HasMaxLength(500);
        b.HasOne<Tenant>().WithMany().HasForeignKey(e => e.TenantId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(e => e.TenantId);
    }
}

internal sealed class WebhookEventConfiguration : IEntityTypeConfiguration<WebhookEvent>
{
    public void Configure(EntityTypeBuilder<WebhookEvent> b)
    {
        b.Property(e => e.Type).HasMaxLength(64);
        b.Property(e => e.JobStatus).HasMaxLength(16);
        b.Property(e => e.Details).HasColumnType("jsonb");
        b.Property(e => e.Payload).HasColumnType("text");
        // No foreign key to the job: a deleted job's events are still delivered.
        b.HasIndex(e => e.CreatedAt).HasFilter("dispatched_at IS NULL").HasDatabaseName("ix_webhook_events_waiting");
    }
}

internal sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> b)
    {
        b.Property(d => d.EventType).HasMaxLength(64);
        b.Property(d => d.Status).HasMaxLength(16);
        b.Property(d => d.LastError).HasMaxLength(1000);
        b.Property(d => d.ResponsePrefix).HasMaxLength(WebhookDeliveryStatus.ResponsePrefixChars);
        b.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<WebhookEvent>().WithMany().HasForeignKey(d => d.EventId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(d => new { d.EndpointId, d.Id });
        b.HasIndex(d => d.NextAttemptAt).HasFilter("status = 'pending'").HasDatabaseName("ix_webhook_deliveries_due");
    }
}
