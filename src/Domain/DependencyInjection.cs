using LoraService.Domain.Artifacts;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LoraService.Domain;

public static class DependencyInjection
{
    /// <summary>Database context (PostgreSQL, snake_case) and the artifact store.</summary>
    public static IServiceCollection AddDomainServices(this IServiceCollection services, string connectionString, string artifactRoot)
    {
        // One Npgsql data source (connection pool) for EF Core and for the few hot paths that read with plain SQL.
        var dataSource = new NpgsqlDataSourceBuilder(connectionString).Build();
        services.AddSingleton(dataSource);
        services.AddDbContextPool<LoraDbContext>(options => options.UseLoraPostgres(dataSource));
        services.AddSingleton<IArtifactStore>(new FileSystemArtifactStore(artifactRoot));
        return services;
    }

    public static DbContextOptionsBuilder UseLoraPostgres(this DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history"))
            .UseSnakeCaseNamingConvention();

    public static DbContextOptionsBuilder UseLoraPostgres(this DbContextOptionsBuilder options, NpgsqlDataSource dataSource) =>
        options.UseNpgsql(dataSource, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history"))
            .UseSnakeCaseNamingConvention();
}
