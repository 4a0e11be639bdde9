using Microsoft.AspNetCore.WebUtilities;

namespace LoraService.Api.OpenAi;

/// <summary>
/// Under <c>/v1</c> every error the host writes as problem details (the exception handler, authentication failures,
/// status code pages, rate limits) goes out in OpenAI's shape instead, so the SDKs raise their typed exceptions. A 422
/// becomes OpenAI's 400, and the first invalid field becomes <c>param</c>. Registered before the default writer.
/// </summary>
internal sealed class OpenAiProblemWriter : IProblemDetailsWriter
{
    public static bool IsOpenAiPath(PathString path) => path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase);

    public bool CanWrite(ProblemDetailsContext context) => IsOpenAiPath(context.HttpContext.Request.Path);

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var response = context.HttpContext.Response;
        var problem = context.ProblemDetails;
        var status = problem.Status ?? response.StatusCode;
        if (status == StatusCodes.Status422UnprocessableEntity) status = StatusCodes.Status400BadRequest;

        string? param = null;
        var message = status == StatusCodes.Status401Unauthorized
            ? "Missing or invalid API key: send Authorization: Bearer <key>."
            : problem.Detail ?? problem.Title ?? ReasonPhrases.GetReasonPhrase(status);
        if (problem is HttpValidationProblemDetails { Errors.Count: > 0 } validation)
        {
            param = validation.Errors.Keys.First();
            message = string.Join(" ", validation.Errors.SelectMany(e => e.Value));
        }
        response.StatusCode = status;
        return new ValueTask(response.WriteAsJsonAsync(OpenAiErrors.Body(status, message, param), context.HttpContext.RequestAborted));
    }
}
