using System.Text.Json;
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
            BadHttpRequestException bad => new ProblemDetails
            {
                Status = bad.StatusCode,
                Title = "The request could not be read.",
                // The JSON error names the field and position, e.g. "$.lora.rank | LineNumber: 0 | BytePositionInLine: 32".
                Detail = bad.InnerException is JsonException json ? $"{bad.Message} {json.Message}" : bad.Message,
            },
            InvalidJobTransitionException transition => new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "The job cannot do that now.", Detail = transition.Message },
            DbUpdateConcurrencyException => new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "The resource changed meanwhile; retry the request." },
            _ => null,
        };
        if (problem is null) return false;
        context.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }
}
