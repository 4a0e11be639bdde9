using System.Diagnostics;
using LoraService.TestSupport;
using LoraService.Training.Models;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoraService.Worker.Tests;

/// <summary>The first run: the worker starts before the API has created the tables.</summary>
public sealed class ModelCatalogStartupTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private readonly string _models = Directory.CreateTempSubdirectory("lora-models-").FullName;

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync(migrate: false);

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_models, recursive: true);
    }

    [Fact]
    public async Task A_worker_started_before_the_migration_registers_the_models_within_seconds_of_it()
    {
        ModelFactory.WriteCheckpoint(Path.Combine(_models, "tiny-llama"), ModelFactory.TinyLlama(hidden: 32, layers: 1, heads: 4, kvHeads: 2, intermediate: 64), seed: 1);
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("ConnectionStrings:Postgres", _database.ConnectionString);
            builder.UseSetting("Worker:Device", "cpu");
            builder.UseSetting("Lora:ModelsPath", _models);
            builder.UseSetting("Lora:ArtifactsPath", Path.GetTempPath());
        });
        _ = factory.CreateClient(); // starts the host: its first sync fails, there are no tables yet

        await Task.Delay(TimeSpan.FromSeconds(3));
        await using (var db = _database.CreateContext())
            await db.Database.MigrateAsync();

        var clock = Stopwatch.StartNew();
        var names = new List<string>();
        while (clock.Elapsed < TimeSpan.FromSeconds(10) && names.Count == 0)
        {
            await using var connection = new NpgsqlConnection(_database.ConnectionString);
            await connection.OpenAsync();
            await using var query = new NpgsqlCommand("SELECT name FROM base_models ORDER BY name", connection);
            await using var reader = await query.ExecuteReaderAsync();
            while (await reader.ReadAsync()) names.Add(reader.GetString(0));
            if (names.Count == 0) await Task.Delay(200);
        }
        Assert.Equal(["tiny-llama"], names);
    }
}
