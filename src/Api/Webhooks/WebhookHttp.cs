using System.Net;
using System.Net.Sockets;

namespace LoraService.Api.Webhooks;

/// <summary>
/// The HTTP client deliveries go through: no redirects, no cookies, no proxy, short connect timeout, and a connect step
/// that resolves the host itself and refuses non-public addresses (unless allowed) right before connecting, so a name
/// that resolved to a public address at registration and to an internal one now (DNS rebinding) is still refused.
/// </summary>
internal static class WebhookHttp
{
    public static HttpClient Create(WebhookOptions options) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        ConnectTimeout = options.Timeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        MaxConnectionsPerServer = Math.Max(options.Concurrency, 1),
        ConnectCallback = (context, ct) => ConnectAsync(context.DnsEndPoint, options.AllowPrivateAddresses, ct),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan, // each attempt has its own deadline
    };

    private static async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, bool allowPrivate, CancellationToken ct)
    {
        var host = endpoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = allowPrivate ? addresses : [.. addresses.Where(WebhookAddresses.IsPublic)];
        if (allowed.Length == 0)
            throw new WebhookAddressRefusedException(
                $"{endpoint.Host} resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}: not a public address (Webhooks__AllowPrivateAddresses is off)");

        Exception? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
        }
        throw last!;
    }
}

internal sealed class WebhookAddressRefusedException(string message) : IOException(message);
