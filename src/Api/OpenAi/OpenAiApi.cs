namespace LoraService.Api.OpenAi;

/// <summary>The OpenAI-compatible surface under <c>/v1</c>: same keys, tenants, datasets and jobs as <c>/api/v1</c>.</summary>
internal static class OpenAiApi
{
    /// <summary>Call before AddProblemDetails: the first problem writer that accepts a request writes its errors.</summary>
    public static IServiceCollection AddOpenAiErrors(this IServiceCollection services) =>
        services.AddSingleton<IProblemDetailsWriter, OpenAiProblemWriter>();

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapOpenAiFilesApi();
        v1.MapOpenAiJobsApi();
        return app;
    }
}
