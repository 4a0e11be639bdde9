using LoraService.Contracts.Jobs;
using Hangfire;
using LoraService.Api.Auth;
using LoraService.Api.Datasets;
using LoraService.Api.Jobs;
using LoraService.Api.OpenAi;
using LoraService.ServiceDefaults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.OpenApi;
using Serilog;

namespace LoraService.Api;

internal static class Extensions
{
    public static IHostApplicationBuilder AddApiServices(this IHostApplicationBuilder builder)
    {
        builder.AddHangfireStorage();
        builder.Services.AddHostedService<DatabaseMigrator>();
        // The API reaps too: a cancel whose worker died still ends, even when no worker is left.
        builder.AddJobReaper();
        builder.Services.Configure<AdminKeyOptions>(builder.Configuration.GetSection(AdminKeyOptions.Section));
        builder.Services.AddHostedService<AdminKeyBootstrapper>();

        builder.Services.AddSingleton(builder.Configuration.GetSection(JobQueueOptions.Section).Get<JobQueueOptions>() ?? new JobQueueOptions());
        builder.Services.AddScoped<JobQueue>();
        builder.Services.AddScoped<JobSpecCheck>();
        builder.Services.AddScoped<JobDryRun>();
        builder.Services.AddSingleton(builder.Configuration.GetSection(Sweeps.SweepOptions.Section).Get<Sweeps.SweepOptions>() ?? new Sweeps.SweepOptions());
        builder.Services.AddScoped<Sweeps.SweepSubmission>();
        builder.Services.AddSingleton<MetricsReader>();
        builder.Services.AddScoped<DatasetIntake>();
        builder.Services.AddSingleton(builder.Configuration.GetSection(DatasetUploadOptions.Section).Get<DatasetUploadOptions>() ?? new DatasetUploadOptions());

        builder.Services.AddSingleton(builder.Configuration.GetSection(ApiOptions.Section).Get<ApiOptions>() ?? new ApiOptions());
        builder.Services.AddOpenAiErrors();
        builder.AddOperations();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        // Binding failures reach ProblemExceptionHandler in every environment, so clients always learn which field was wrong.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        // Numbers are JSON numbers ("8" and "NaN" are not), and a misspelt field is an error, not a silent default.
        builder.Services.ConfigureHttpJsonOptions(json => JobSpecJson.Configure(json.SerializerOptions));
        builder.Services.AddMemoryCache();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(AuthPolicies.Admin, policy => policy.RequireClaim(ApiKeyClaims.IsAdmin, "true"));

        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "LoraService API",
                Version = "v1",
                Description = "Fine-tuning that reports what a job learned and what it forgot.",
            });
            options.AddSecurityDefinition("bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key: `Authorization: Bearer lsk_...`",
            });
            options.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference("bearer", document)] = [],
            });
            options.SchemaFilter<SwaggerExamples>();
            // The job spec's fields are documented where they are defined (Contracts).
            foreach (var assembly in new[] { "LoraService.Api", "LoraService.Contracts" })
            {
                var xml = Path.Combine(AppContext.BaseDirectory, assembly + ".xml");
                if (File.Exists(xml)) options.IncludeXmlComments(xml);
            }
        });
        return builder;
    }

    public static WebApplication UseApiPipeline(this WebApplication app)
    {
        // Outermost, so a request is logged with the status the client got (a malformed body is a 400, not a 500).
        app.UseSerilogRequestLogging(options => options.GetLevel = RequestLogLevel);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseJsonBodyLimit();
        app.UseSwagger();
        app.UseSwaggerUI(options =>
        {
            options.SwaggerEndpoint("/swagger/v1/swagger.json", "LoraService v1");
            options.DocumentTitle = "LoraService API";
        });
        app.UseDashboard();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Polling (metrics, events, job status, health) would flood the log at Information; it goes to Debug unless it fails.</summary>
    private static Serilog.Events.LogEventLevel RequestLogLevel(HttpContext context, double elapsedMs, Exception? error)
    {
        if (error is not null || context.Response.StatusCode >= 500) return Serilog.Events.LogEventLevel.Error;
        var path = context.Request.Path.Value ?? "";
        var polling = HttpMethods.IsGet(context.Request.Method) &&
            (path.StartsWith("/health", StringComparison.Ordinal) || path.StartsWith("/api/v1/jobs", StringComparison.Ordinal)
                || path.StartsWith("/api/v1/sweeps", StringComparison.Ordinal) || path.StartsWith("/api/v1/compare", StringComparison.Ordinal)
                || path.StartsWith("/dashboard", StringComparison.Ordinal));
        return polling ? Serilog.Events.LogEventLevel.Debug : Serilog.Events.LogEventLevel.Information;
    }

    /// <summary>
    /// The web dashboard: static files from wwwroot at /dashboard/. Served before authentication and authorization,
    /// so the page loads without a key (the fallback policy covers only what comes after); every API call it makes
    /// sends the key the user typed in.
    /// </summary>
    public static WebApplication UseDashboard(this WebApplication app)
    {
        var files = DashboardFiles(app.Environment);
        app.UseDefaultFiles(new DefaultFilesOptions { RequestPath = "/dashboard", FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            RequestPath = "/dashboard",
            FileProvider = files,
            // Small files, revalidated each load (ETag / Last-Modified) so an upgrade never leaves a stale module behind.
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
        app.MapGet("/", () => Results.Redirect("/dashboard/")).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    /// <summary>wwwroot under the content root (dotnet run, tests, publish), else the copy next to the assembly (lora.sh runs the dll from the repo root).</summary>
    private static Microsoft.Extensions.FileProviders.IFileProvider DashboardFiles(IWebHostEnvironment environment)
    {
        if (File.Exists(Path.Combine(environment.WebRootPath ?? "", "index.html")))
            return environment.WebRootFileProvider;
        var beside = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        return Directory.Exists(beside)
            ? new Microsoft.Extensions.FileProviders.PhysicalFileProvider(beside)
            : new Microsoft.Extensions.FileProviders.NullFileProvider();
    }

    public static WebApplication MapHangfireDashboardForAdmins(this WebApplication app)
    {
        app.MapHangfireDashboard("/hangfire", new DashboardOptions
        {
            DisplayStorageConnectionString = false,
            // ASP.NET Core authorization (admin API key) guards the route; Hangfire's own local-only filter is replaced.
            Authorization = [],
            DashboardTitle = "LoraService queue",
        }).RequireAuthorization(AuthPolicies.Admin);
        return app;
    }
}
