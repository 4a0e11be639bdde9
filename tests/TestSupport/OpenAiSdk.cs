using System.ClientModel;
using System.ClientModel.Primitives;
using OpenAI;

namespace LoraService.TestSupport;

/// <summary>The official OpenAI SDK pointed at this service's <c>/v1</c>, through <paramref name="http"/> when given (an in-process host).</summary>
public static class OpenAiSdk
{
    public static OpenAIClient Client(Uri serviceBase, string apiKey, HttpClient? http = null)
    {
        var options = new OpenAIClientOptions { Endpoint = new Uri(serviceBase, "/v1"), NetworkTimeout = TimeSpan.FromMinutes(2) };
        if (http is not null) options.Transport = new HttpClientPipelineTransport(http);
        // Errors are asserted, not retried.
        options.RetryPolicy = new ClientRetryPolicy(maxRetries: 0);
        return new OpenAIClient(new ApiKeyCredential(apiKey), options);
    }
}
