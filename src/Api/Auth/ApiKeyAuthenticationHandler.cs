using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using LoraService.Domain.Persistence;
using LoraService.Domain.Tenants;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LoraService.Api.Auth;

/// <summary>
/// Accepts <c>Authorization: Bearer &lt;key&gt;</c>, or HTTP Basic with the key as password (so a browser can open /hangfire).
/// Verified keys are cached briefly (<see cref="ApiKeyCache"/>); revoked and expired keys answer 401.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    LoraDbContext db,
    ApiKeyCache cache,
    TimeProvider clock)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    private static readonly TimeSpan LastUsedPrecision = TimeSpan.FromMinutes(1);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = ReadKey(Request.Headers.Authorization.ToString());
        if (key is null) return AuthenticateResult.NoResult();
        if (!ApiKeySecret.TryGetPrefix(key, out var prefix)) return AuthenticateResult.Fail("Malformed API key.");

        var hash = ApiKeySecret.Hash(key);
        var verified = cache.Get(hash);
        if (verified is null)
        {
            var row = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Prefix == prefix, Context.RequestAborted);
            var now = clock.GetUtcNow();
            if (row is null || row.RevokedAt is not null || row.ExpiresAt <= now || !ApiKeySecret.Matches(key, row.Hash))
                return AuthenticateResult.Fail("Unknown, revoked or expired API key.");
            verified = new VerifiedKey(row.Id, row.TenantId, row.IsAdmin);
            cache.Set(hash, verified, row.ExpiresAt);
            if (row.LastUsedAt is not { } used || now - used >= LastUsedPrecision)
                await db.ApiKeys.Where(k => k.Id == row.Id).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), Context.RequestAborted);
        }

        var identity = new ClaimsIdentity(
        [
            new Claim(ApiKeyClaims.TenantId, verified.TenantId.ToString()),
            new Claim(ApiKeyClaims.KeyId, verified.KeyId.ToString()),
            new Claim(ApiKeyClaims.IsAdmin, verified.IsAdmin ? "true" : "false"),
        ], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer, Basic realm=\"LoraService\"";
        return base.HandleChallengeAsync(properties);
    }

    private static string? ReadKey(string header)
    {
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return header["Bearer ".Length..].Trim();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':');
            return colon < 0 ? null : decoded[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
