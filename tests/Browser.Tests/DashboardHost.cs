using System.Net;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LoraService.Browser.Tests;

/// <summary>The real API host, listening on a loopback port (Kestrel) so a real browser can reach it, on a fresh PostgreSQL database.</summary>
public sealed class DashboardHost : WebApplicationFactory<Program>, IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private readonly string _data = Directory.CreateTempSubdirectory("lora-browser-").FullName;

    public PostgresDatabase Database => _database;
    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync(migrate: false);
        var port = LoopbackPort.Free();
        UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        // Starting applies the migrations and creates the admin key the test seeds against.
        StartServer();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
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
