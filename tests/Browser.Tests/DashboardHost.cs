using System.Net;
using System.Net.Sockets;
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
        var port = FreePort();
        UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        // Starting applies the migrations and creates the admin key the test seeds against.
        StartServer();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:Postgres", _database.ConnectionString);
        builder.UseSetting("Auth:AdminKey", TestKeys.Admin);
        builder.UseSetting("Lora:ArtifactsPath", Path.Combine(_data, "artifacts"));
        builder.UseSetting("Lora:ModelsPath", Path.Combine(_data, "models"));
        builder.UseSetting("Serilog:MinimumLevel:Default", "Warning");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }
}
