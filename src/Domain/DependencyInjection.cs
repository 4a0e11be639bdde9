using LoraService.Domain.Artifacts;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LoraService.Domain;

public static class DependencyInjection
{
    /// <summary>Database context (PostgreSQL, snake_case) and the artifact store.</summary>
    public static IServiceCollection AddDomainServices(this IServiceCollection services, string connectionString, string artifactRoot)
    {
        services.AddDbContext<LoraDbContext>(options => options.UseLoraPostgres(connectionString));
        services.AddSingleton<IArtifactStore>(new FileSystemArtifactStore(artifactRoot));
        return services;
    }

    public static DbContextOptionsBuilder UseLoraPostgres(this DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history"))
            .UseSnakeCaseNamingConvention();
}
