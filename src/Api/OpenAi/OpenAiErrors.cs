namespace LoraService.Api.OpenAi;

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed record OpenAiErrorBody(OpenAiError Error);

public sealed record OpenAiError(string Message, string Type, string? Param, string? Code);

internal static class OpenAiErrors
{
    public static OpenAiErrorBody Body(int status, string message, string? param = null, string? code = null) =>
        new(new OpenAiError(message, TypeOf(status), param, code ?? CodeOf(status)));

    public static IResult Result(int status, string message, string? param = null, string? code = null) =>
        TypedResults.Json(Body(status, message, param, code), statusCode: status);

    public static IResult BadRequest(string message, string? param, string? code = "invalid_value") =>
        Result(StatusCodes.Status400BadRequest, message, param, code);

    public static IResult NotFound(string what, string id, string param) =>
        Result(StatusCodes.Status404NotFound, $"No {what} found with id '{id}'.", param, "not_found");

    /// <summary>The types OpenAI's APIs send; its SDKs pick their exception by the status code.</summary>
    private static string TypeOf(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "invalid_request_error",
        StatusCodes.Status403Forbidden => "permission_error",
        StatusCodes.Status429TooManyRequests => "requests",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    private static string? CodeOf(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "invalid_api_key",
        StatusCodes.Status404NotFound => "not_found",
        StatusCodes.Status409Conflict => "conflict",
        StatusCodes.Status413PayloadTooLarge => "file_too_large",
        StatusCodes.Status429TooManyRequests => "rate_limit_exceeded",
        _ => null,
    };
}
