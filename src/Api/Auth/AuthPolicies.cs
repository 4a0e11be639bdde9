namespace LoraService.Api.Auth;

internal static class AuthPolicies
{
    public const string Admin = "admin";
}

internal static class ApiKeyClaims
{
    public const string TenantId = "tenant_id";
    public const string KeyId = "key_id";
    public const string IsAdmin = "is_admin";
}
