using System.Net;
using System.Net.Sockets;

namespace LoraService.Api.Webhooks;

/// <summary>
/// Which addresses a webhook may reach. Unless the operator allows private addresses, only public unicast ones: no
/// loopback, private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254), carrier-grade NAT,
/// multicast, unspecified or reserved ranges, also when written as an IPv4-mapped IPv6 address.
/// </summary>
internal static class WebhookAddresses
{
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return false;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] is 0 or 10 or 127 or >= 224
                || (b[0] == 100 && b[1] is >= 64 and <= 127)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] is >= 16 and <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 198 && b[1] is 18 or 19)
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113));
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            return !(address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (b[0] & 0xfe) == 0xfc // fc00::/7 unique local
                || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) // 2001:db8::/32 documentation
                || (b[0] == 0x00 && b.Take(12).All(x => x == 0))); // ::/96 (unspecified, IPv4-compatible)
        }
        return false;
    }

    /// <summary>Null when the URL may be registered; otherwise why not (for the <c>url</c> field's problem details).</summary>
    public static async Task<string?> CheckUrlAsync(string? url, WebhookOptions options, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(url)) return "url is required.";
        if (url.Length > 2048) return "url must be at most 2048 characters.";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || string.IsNullOrEmpty(uri.Host))
            return "url must be an absolute https URL.";
        if (uri.Scheme == "http" && !options.AllowInsecureUrls)
            return "url must use https (http is allowed only when the operator sets Webhooks__AllowInsecureUrls=true).";
        if (!string.IsNullOrEmpty(uri.UserInfo)) return "url must not carry credentials (user:password@).";
        if (!string.IsNullOrEmpty(uri.Fragment)) return "url must not have a fragment (#...).";
        if (options.AllowPrivateAddresses) return null;

        IPAddress[] addresses;
        try
        {
            var host = uri.IdnHost.Trim('[', ']');
            addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        }
        catch (SocketException e)
        {
            return $"url's host '{uri.Host}' does not resolve ({e.SocketErrorCode}).";
        }
        if (addresses.Length == 0) return $"url's host '{uri.Host}' does not resolve.";
        var blocked = addresses.FirstOrDefault(a => !IsPublic(a));
        return blocked is null ? null
            : $"url's host '{uri.Host}' is (or resolves to) {blocked}, a private, loopback or otherwise non-public address; " +
              "the operator allows those only with Webhooks__AllowPrivateAddresses=true.";
    }
}
