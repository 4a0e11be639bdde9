using System.Security.Claims;

namespace LoraService.Api.Auth;

internal static class ClaimsPrincipalExtensions
{
    public static Guid TenantId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(ApiKeyClaims.TenantId) ?? throw new InvalidOperationException("Not authenticated."));

    public static bool IsAdmin(this ClaimsPrincipal user) => user.HasClaim(ApiKeyClaims.IsAdmin, "true");
}
