using System.Text.Json;
using LoraService.Contracts.Attempts;
using LoraService.Domain.Jobs;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api;

/// <summary>Maps the exceptions a client can cause to problem details with their real status; everything else stays a 500.</summary>
internal sealed class ProblemExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } when UnknownField(json) is { } field => new ValidationProblemDetails(
                new Dictionary<string, string[]> { [field] = [$"'{field}' is not a field of this request; check its spelling (see Swagger for the schema)."] })
            {
                Status = StatusCodes.Status422UnprocessableEntity,
                Title = "The request has a field this API does not know.",
            },
            BadHttpRequestException { InnerException: JsonException json } when WrongType(json) is var (field, message) && field is not null => new ValidationProblemDetails(
                new Dictionary<string, string[]> { [field] = [message] })
            {
                Status = StatusCodes.Status422UnprocessableEntity,
                Title = "A field has a value of the wrong type.",
            },
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new ProblemDetails
            {
                Status = StatusCodes.Status413PayloadTooLarge,
                Title = "The request body is too large.",
                Detail = "JSON bodies are limited by Api:MaxJsonBodyBytes (1 MiB by default); datasets are uploaded as multipart files (Datasets:MaxUploadBytes).",
            },
            BadHttpRequestException { InnerException: null } missing when missing.Message.Contains("body", StringComparison.OrdinalIgnoreCase) => new ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "The request has no body.",
                Detail = "Send the request as a JSON object (not null, not empty) with Content-Type: application/json; see Swagger for its schema.",
            },
            BadHttpRequestException bad => new ProblemDetails
            {
                Status = bad.StatusCode,
                Title = "The request could not be read.",
                // The JSON error names the field and position, e.g. "$.lora.rank | LineNumber: 0 | BytePositionInLine: 32".
                Detail = bad.InnerException is JsonException json ? $"{bad.Message} {json.Message}" : bad.Message,
            },
            InvalidJobTransitionException transition => new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "The job cannot do that now.", Detail = transition.Message },
            IOException full when DiskFullException.IsDiskFull(full) => new ProblemDetails
            {
                Status = StatusCodes.Status507InsufficientStorage,
                Title = "The server's storage is full.",
                Detail = "No space left on device; nothing was kept from this request. Retry once an operator has freed space.",
            },
            DbUpdateConcurrencyException => new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "The resource changed meanwhile; retry the request." },
            _ => null,
        };
        if (problem is null) return false;
        context.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>The field a JSON body error is about and what is wrong with it (a sweep child's spec reads the same as a job's); null when unknown.</summary>
    internal static (string Field, string Message)? Describe(JsonException json) =>
        UnknownField(json) is { } unknown ? (unknown, $"'{unknown}' is not a field of this request; check its spelling (see Swagger for the schema).")
        : WrongType(json) is (string field, var message) ? (field, message)
        : null;

    /// <summary>
    /// A value System.Text.Json could not convert ("The JSON value could not be converted to T"): its path and what the
    /// field takes, e.g. <c>hyperparameters.schedule</c> → "schedule must be one of constant, linear, cosine.".
    /// </summary>
    internal static (string? Field, string Message) WrongType(JsonException json)
    {
        var match = System.Text.RegularExpressions.Regex.Match(json.Message, @"^The JSON value could not be converted to (?<type>[^.\s][^\s]*?)\.? Path:");
        var path = (json.Path ?? "").TrimStart('$').TrimStart('.');
        if (!match.Success || path.Length == 0) return (null, "");
        var name = path.Split('.')[^1];
        var typeName = match.Groups["type"].Value;
        if (typeName.StartsWith("System.Nullable`1[", StringComparison.Ordinal)) typeName = typeName["System.Nullable`1[".Length..].TrimEnd(']');
        var type = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(typeName)).FirstOrDefault(t => t is not null);
        var takes = type switch
        {
            { IsEnum: true } => "must be one of " + string.Join(", ", Enum.GetNames(type).Select(System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName)),
            _ when type == typeof(int) || type == typeof(long) => "must be a whole JSON number",
            _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "must be a finite JSON number (not a string)",
            _ when type == typeof(bool) => "must be true or false",
            _ when type == typeof(string) => "must be a string",
            _ when type == typeof(Guid) => "must be an id",
            _ when type == typeof(TimeSpan) => "must be a duration \"hh:mm:ss\" (or \"d.hh:mm:ss\")",
            _ => "has a value of the wrong type",
        };
        return (path, $"{name} {takes}.");
    }

    /// <summary>The path of an unknown property (snake_case, as the client wrote it), from System.Text.Json's unmapped-member error.</summary>
    internal static string? UnknownField(JsonException json)
    {
        var match = System.Text.RegularExpressions.Regex.Match(json.Message, "^The JSON property '(?<name>[^']+)' could not be mapped");
        if (!match.Success) return null;
        // The path already ends with the unknown property: $.lora.rnak
        var path = (json.Path ?? "").TrimStart('$').TrimStart('.');
        return path.Length > 0 ? path : match.Groups["name"].Value;
    }
}
