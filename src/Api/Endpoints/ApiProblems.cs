using Microsoft.AspNetCore.Http.HttpResults;

namespace LoraService.Api.Endpoints;

internal static class ApiProblems
{
    /// <summary>422: the request is well-formed but its content is invalid; <paramref name="errors"/> maps fields to messages.</summary>
    public static ProblemHttpResult Unprocessable(IReadOnlyDictionary<string, string[]> errors, string title) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = title,
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.21",
        });

    /// <summary>409 as application/problem+json (a <c>Conflict&lt;ProblemDetails&gt;</c> would be plain JSON).</summary>
    public static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: title, detail: detail);
}
