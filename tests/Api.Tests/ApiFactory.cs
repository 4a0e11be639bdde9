using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LoraService.Api.Tests;

/// <summary>The real API host on a fresh, real PostgreSQL database.</summary>
public sealed class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private readonly string _data = Directory.CreateTempSubdirectory("lora-api-").FullName;

    public PostgresDatabase Database => _database;
    public string ArtifactsPath => Path.Combine(_data, "artifacts");
    public string ModelsPath => Path.Combine(_data, "models");

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync(migrate: false);
        // Start the host now: it applies the migrations and creates the admin key that tests seed against.
        CreateClient().Dispose();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ApiHostSettings.Apply(builder, _database, _data);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }
}
