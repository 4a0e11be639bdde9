using System.Security.Cryptography;

namespace LoraService.Domain.Webhooks;

/// <summary>
/// A tenant's URL that receives signed job events. The secret is kept in clear because every delivery is signed with it;
/// the API shows it only when it is created or rotated.
/// </summary>
public sealed class WebhookEndpoint : ITenantOwned
{
    public const string SecretPrefix = "whsec_";

    public Guid Id { get; init; } = Guid.CreateVersion7();
    public Guid TenantId { get; init; }
    public required string Url { get; init; }
    public List<string> Events { get; set; } = [];
    public string? Description { get; set; }
    public required string Secret { get; set; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>Since when every attempt failed (null after any success); the dispatcher disables the endpoint once this is old enough.</summary>
    public DateTimeOffset? FailingSince { get; set; }
    public DateTimeOffset? DisabledAt { get; set; }
    public string? DisabledReason { get; set; }

    /// <summary><c>whsec_</c> + base64 of 32 random bytes, the Standard Webhooks secret format.</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
}
