using System.Net.Http.Headers;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LoraService.Api.Tests;

internal static class HostClients
{
    /// <summary>A client of any API test host (the fixture or one derived with other settings) that sends <paramref name="apiKey"/>.</summary>
    public static HttpClient CreateClient(this WebApplicationFactory<Program> host, string apiKey)
    {
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }
}
