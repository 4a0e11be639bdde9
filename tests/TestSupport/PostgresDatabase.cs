using LoraService.Domain;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.TestSupport;

/// <summary>
/// A fresh, migrated database on the real PostgreSQL server that `./lora.sh test` starts (LORA_TEST_POSTGRES).
/// Each instance owns one database and drops it on dispose.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    public const string ServerVariable = "LORA_TEST_POSTGRES";

    private PostgresDatabase(string serverConnectionString, string name)
    {
        ServerConnectionString = serverConnectionString;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    public string Name { get; }
    public string ConnectionString { get; }
    private string ServerConnectionString { get; }

    public static string ServerConnectionStringFromEnvironment() =>
        Environment.GetEnvironmentVariable(ServerVariable)
        ?? throw new InvalidOperationException(
            $"{ServerVariable} is not set. Run the tests with `./lora.sh test`, which starts a throwaway PostgreSQL, or point {ServerVariable} at a server you own.");

    /// <summary>Creates an empty database; <paramref name="migrate"/> applies all migrations.</summary>
    public static async Task<PostgresDatabase> CreateAsync(bool migrate = true)
    {
        var server = ServerConnectionStringFromEnvironment();
        var database = new PostgresDatabase(server, $"lora_test_{Guid.NewGuid():N}");
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Database = "postgres" }.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }
        if (migrate)
        {
            await using var db = database.CreateContext();
            await db.Database.MigrateAsync();
        }
        return database;
    }

    public LoraDbContext CreateContext()
    {
        var options = new DbContextOptionsBuilder<LoraDbContext>();
        options.UseLoraPostgres(ConnectionString);
        return new LoraDbContext(options.Options);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = "postgres" }.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
