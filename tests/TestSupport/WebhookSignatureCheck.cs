using System.Security.Cryptography;
using System.Text;

namespace LoraService.TestSupport;

/// <summary>
/// The Standard Webhooks check as a receiver writes it, independently of the service's signer: HMAC-SHA256 keyed with
/// the base64 after <c>whsec_</c>, over <c>{webhook-id}.{webhook-timestamp}.{body}</c>, compared in constant time with
/// each <c>v1,</c> signature in the header, and a timestamp within five minutes.
/// </summary>
public static class WebhookSignatureCheck
{
    public static bool IsValid(string secret, string id, string timestamp, string signatureHeader, string body, DateTimeOffset now)
    {
        if (!long.TryParse(timestamp, out var seconds) || Math.Abs(now.ToUnixTimeSeconds() - seconds) > 300) return false;
        using var hmac = new HMACSHA256(Convert.FromBase64String(secret["whsec_".Length..]));
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(id + "." + timestamp + "." + body));
        foreach (var part in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var comma = part.IndexOf(',');
            if (comma < 0 || part[..comma] != "v1") continue;
            byte[] given;
            try { given = Convert.FromBase64String(part[(comma + 1)..]); }
            catch (FormatException) { continue; }
            if (CryptographicOperations.FixedTimeEquals(given, expected)) return true;
        }
        return false;
    }

    public static bool IsValid(string secret, ReceivedWebhook r) => IsValid(secret, r.Id, r.Timestamp, r.Signature, r.Body, DateTimeOffset.UtcNow);
}
