using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LoraService.TestSupport;

/// <summary>A request as the receiver got it.</summary>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body, DateTimeOffset At);

/// <summary>
/// A real HTTP receiver: Kestrel on a loopback port. <see cref="Respond"/> picks the status code for each request (by
/// its number, 1-based); it may also never answer (a hang) until the receiver is stopped.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}/hook";
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();
    public Func<int, Task<int>> Respond { get; set; } = _ => Task.FromResult(200);
    private int _requests;

    private WebhookReceiver(WebApplication app, int port) => (_app, Port) = (app, port);

    public static async Task<WebhookReceiver> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        WebhookReceiver? receiver = null;
        app.MapPost("/hook", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync();
            var number = Interlocked.Increment(ref receiver!._requests);
            receiver.Received.Enqueue(new ReceivedWebhook(http.Request.Headers["webhook-id"].ToString(), http.Request.Headers["webhook-timestamp"].ToString(),
                http.Request.Headers["webhook-signature"].ToString(), body, DateTimeOffset.UtcNow));
            http.Response.StatusCode = await receiver.Respond(number);
            await http.Response.WriteAsync("received " + number);
        });
        await app.StartAsync();
        var bound = new Uri(app.Urls.First()).Port;
        receiver = new WebhookReceiver(app, bound);
        return receiver;
    }

    /// <summary>Waits until <paramref name="count"/> requests matching <paramref name="match"/> arrived.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(Func<ReceivedWebhook, bool> match, int count = 1, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var found = Received.Where(match).ToList();
            if (found.Count >= count) return found;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{found.Count} of {count} webhook(s) arrived within {seconds} s; all received: " +
                    string.Join(" | ", Received.Select(r => r.Body.Length > 120 ? r.Body[..120] : r.Body)));
            await Task.Delay(25);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try { await _app.StopAsync(quick.Token); } catch (OperationCanceledException) { }
        await _app.DisposeAsync();
    }
}
