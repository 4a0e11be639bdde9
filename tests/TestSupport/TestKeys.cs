namespace LoraService.TestSupport;

public static class TestKeys
{
    /// <summary>The admin key test hosts are configured with.</summary>
    public const string Admin = "lsk_a11ce5e5_test-admin-secret-0123456789";
}
