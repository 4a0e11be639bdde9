using System.Net;
using System.Net.Http.Json;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace LoraService.Worker.Tests;

public sealed class WorkerHostTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync();

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private sealed record WorkerInfo(string Device, string Description, string Queue);

    [Fact]
    public async Task The_worker_detects_the_cpu_and_registers_a_hangfire_server_on_its_queue()
    {
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("ConnectionStrings:Postgres", _database.ConnectionString);
            builder.UseSetting("Worker:Device", "auto");
            builder.UseSetting("Worker:Name", "test-worker");
            builder.UseSetting("Lora:ArtifactsPath", Path.GetTempPath());
        });
        var client = factory.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        var info = (await client.GetFromJsonAsync<WorkerInfo>("/worker"))!;
        Assert.Equal(("cpu", "cpu"), (info.Device, info.Queue));

        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        string? serverData = null;
        for (var attempt = 0; attempt < 50 && serverData is null; attempt++)
        {
            await using var query = new NpgsqlCommand("SELECT data FROM hangfire.server WHERE id LIKE 'test-worker%' AND id NOT LIKE 'test-worker:models%'", connection);
            try { serverData = (string?)await query.ExecuteScalarAsync(); }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable) { }
            if (serverData is null) await Task.Delay(200);
        }
        Assert.NotNull(serverData);
        using var json = System.Text.Json.JsonDocument.Parse(serverData);
        Assert.Equal(["cpu"], json.RootElement.GetProperty("Queues").EnumerateArray().Select(q => q.GetString()));
        Assert.Equal(1, json.RootElement.GetProperty("WorkerCount").GetInt32());
    }

    [Fact]
    public void An_unknown_device_setting_is_a_clear_error()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Devices.ComputeDevice.Detect("tpu"));
        Assert.Contains("auto, cpu or cuda", error.Message);
    }
}
