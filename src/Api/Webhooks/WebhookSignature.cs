using System.Security.Cryptography;
using System.Text;
using LoraService.Domain.Webhooks;

namespace LoraService.Api.Webhooks;

/// <summary>
/// Standard Webhooks signing: <c>webhook-signature: v1,&lt;base64 HMAC-SHA256&gt;</c> over <c>{id}.{timestamp}.{body}</c>,
/// keyed with the base64-decoded part of the secret after <c>whsec_</c>.
/// </summary>
internal static class WebhookSignature
{
    public static string Sign(string secret, string messageId, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret.StartsWith(WebhookEndpoint.SecretPrefix, StringComparison.Ordinal)
            ? secret[WebhookEndpoint.SecretPrefix.Length..]
            : secret);
        var signature = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{messageId}.{timestamp}.{body}"));
        return "v1," + Convert.ToBase64String(signature);
    }
}
