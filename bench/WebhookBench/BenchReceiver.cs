using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LoraService.WebhookBench;

/// <summary>Kestrel on loopback that answers 204 at once and notes when each (endpoint, webhook-id) first arrived.</summary>
internal sealed class BenchReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    public ConcurrentDictionary<(int Endpoint, string Id), long> Arrivals { get; } = new();
    public int Port { get; private set; }

    private BenchReceiver(WebApplication app) => _app = app;

    public string Url(int endpoint) => $"http://127.0.0.1:{Port}/hook/{endpoint}";

    public static async Task<BenchReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new BenchReceiver(app);
        app.MapPost("/hook/{endpoint:int}", async (int endpoint, HttpContext http) =>
        {
            var now = Stopwatch.GetTimestamp();
            await http.Request.Body.CopyToAsync(Stream.Null);
            receiver.Arrivals.TryAdd((endpoint, http.Request.Headers["webhook-id"].ToString()), now);
            return Results.NoContent();
        });
        await app.StartAsync();
        receiver.Port = new Uri(app.Urls.First()).Port;
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
