using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LoraService.Api.Tests.Webhooks;

/// <summary>The real API host on its own database with webhook settings for a test class.</summary>
public abstract class WebhookHost : WebApplicationFactory<Program>, IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("lora-hooks-").FullName;

    public PostgresDatabase Database { get; private set; } = null!;

    protected abstract IReadOnlyDictionary<string, string> Settings { get; }

    public async Task InitializeAsync()
    {
        Database = await PostgresDatabase.CreateAsync(migrate: false);
        CreateClient().Dispose();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ApiHostSettings.Apply(builder, Database, _data);
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        await Database.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }

    /// <summary>Loopback receivers over http, fast retries (the tests' "receiver" is this machine).</summary>
    public static readonly IReadOnlyDictionary<string, string> Loopback = new Dictionary<string, string>
    {
        ["Webhooks:AllowInsecureUrls"] = "true",
        ["Webhooks:AllowPrivateAddresses"] = "true",
        ["Webhooks:InitialBackoffSeconds"] = "0.2",
        ["Webhooks:MaxBackoffSeconds"] = "0.5",
        ["Webhooks:PollSeconds"] = "0.1",
        ["Webhooks:TimeoutSeconds"] = "2",
    };
}

public sealed class LoopbackWebhookHost : WebhookHost
{
    protected override IReadOnlyDictionary<string, string> Settings => Loopback;
}

/// <summary>The defaults an operator gets: https only, public addresses only.</summary>
public sealed class DefaultWebhookHost : WebhookHost
{
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { ["Webhooks:PollSeconds"] = "0.1" };
}
