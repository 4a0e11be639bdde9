using Microsoft.AspNetCore.Http.Features;

namespace LoraService.Api;

/// <summary>Section "Api": limits for request bodies other than dataset uploads (which set their own).</summary>
public sealed record ApiOptions
{
    public const string Section = "Api";
    /// <summary>Largest accepted JSON request body (default 1 MiB); larger ones are a 413.</summary>
    public long MaxJsonBodyBytes { get; init; } = 1 << 20;
}

internal static class JsonBodyLimit
{
    /// <summary>Caps JSON bodies: a job spec is a few KiB, so megabytes in an unknown field are refused before they are read.</summary>
    public static IApplicationBuilder UseJsonBodyLimit(this IApplicationBuilder app)
    {
        var limit = app.ApplicationServices.GetRequiredService<ApiOptions>().MaxJsonBodyBytes;
        return app.Use(async (context, next) =>
        {
            if (context.Request.HasJsonContentType())
            {
                // A declared length is refused at once; a chunked body is stopped by the server once it passes the limit.
                if (context.Request.ContentLength > limit)
                    throw new BadHttpRequestException($"The body has {context.Request.ContentLength} bytes; the limit is {limit}.", StatusCodes.Status413PayloadTooLarge);
                if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
                    size.MaxRequestBodySize = limit;
            }
            await next(context);
        });
    }
}
