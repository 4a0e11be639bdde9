using LoraService.Domain.Persistence;
using LoraService.Domain.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LoraService.Api.Auth;

/// <summary>Section "Auth": the first admin key, from configuration or the run script.</summary>
internal sealed record AdminKeyOptions
{
    public const string Section = "Auth";
    public string? AdminKey { get; init; }
    public string AdminTenant { get; init; } = "admin";
}

/// <summary>Makes sure the configured admin key exists (hashed) so a fresh install can be used at once. Runs after migrations.</summary>
internal sealed class AdminKeyBootstrapper(IServiceProvider services, IOptions<AdminKeyOptions> options, ILogger<AdminKeyBootstrapper> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var key = options.Value.AdminKey;
        if (string.IsNullOrWhiteSpace(key)) return;
        if (!ApiKeySecret.TryGetPrefix(key, out var prefix))
            throw new InvalidOperationException("Auth:AdminKey must look like lsk_<prefix>_<secret>; `./lora.sh up` generates one.");

        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoraDbContext>();
        if (await db.ApiKeys.AnyAsync(k => k.Prefix == prefix, cancellationToken)) return;

        var tenant = await db.Tenants.SingleOrDefaultAsync(t => t.Name == options.Value.AdminTenant, cancellationToken)
            ?? db.Tenants.Add(new Tenant { Name = options.Value.AdminTenant }).Entity;
        db.ApiKeys.Add(new ApiKey { TenantId = tenant.Id, Name = "bootstrap admin", Prefix = prefix, Hash = ApiKeySecret.Hash(key), IsAdmin = true });
        await db.SaveChangesAsync(cancellationToken);
        logger.LogInformation("Created the admin API key {Prefix} for tenant {Tenant}", prefix, tenant.Name);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
