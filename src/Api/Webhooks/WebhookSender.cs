using System.Diagnostics;
using System.Text;
using LoraService.Domain.Webhooks;

namespace LoraService.Api.Webhooks;

/// <summary>What one attempt got: a 2xx or not, the status code (null without a response), its latency, why it failed,
/// and the first characters of the response body.</summary>
internal sealed record WebhookAttempt(bool Succeeded, int? StatusCode, int LatencyMs, string? Error, string? ResponsePrefix);

/// <summary>Sends one signed delivery. <c>webhook-id</c> (the id given to SendAsync) is the event's id, the same on every
/// attempt and redelivery, so a receiver can de-duplicate.</summary>
internal sealed class WebhookSender(WebhookOptions options, TimeProvider clock)
{
    private readonly HttpClient _http = WebhookHttp.Create(options);

    public async Task<WebhookAttempt> SendAsync(string url, string secret, string id, string payload, CancellationToken ct)
    {
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSignature.Sign(secret, id, timestamp, payload));
        request.Headers.UserAgent.ParseAdd("LoraService-Webhooks/1");

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(options.Timeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var prefix = await ReadPrefixAsync(response, deadline.Token);
            var code = (int)response.StatusCode;
            var ok = code is >= 200 and < 300;
            return new WebhookAttempt(ok, code, Elapsed(started), ok ? null : $"HTTP {code}", prefix);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new WebhookAttempt(false, null, Elapsed(started), $"timed out after {options.TimeoutSeconds:0.###} s", null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return new WebhookAttempt(false, null, Elapsed(started), Describe(e), null);
        }
    }

    /// <summary>Only the start of the body is read and kept: a receiver cannot make the service store (or wait for) a large response.</summary>
    private static async Task<string?> ReadPrefixAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[WebhookDeliveryStatus.ResponsePrefixChars * 4];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await body.ReadAsync(buffer.AsMemory(read), ct);
                if (n == 0) break;
                read += n;
            }
            if (read == 0) return null;
            var text = Encoding.UTF8.GetString(buffer, 0, read);
            return text.Length > WebhookDeliveryStatus.ResponsePrefixChars ? text[..WebhookDeliveryStatus.ResponsePrefixChars] : text;
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return null;
        }
    }

    private static string Describe(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner is WebhookAddressRefusedException refused) return "refused: " + refused.Message;
        var message = e.InnerException is { } cause ? $"{e.Message} ({cause.Message})" : e.Message;
        return message.Length > 500 ? message[..500] : message;
    }

    private static int Elapsed(long started) => (int)Math.Min(Stopwatch.GetElapsedTime(started).TotalMilliseconds, int.MaxValue);
}
