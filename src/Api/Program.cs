using LoraService.Api;
using LoraService.Api.Endpoints;
using LoraService.Api.OpenAi;
using LoraService.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApiServices();

var app = builder.Build();
app.UseApiPipeline();
app.MapDefaultHealthChecks();
app.MapHangfireDashboardForAdmins();
app.MapIdentityApi();
app.MapJobsApi();
app.MapSweepsApi();
app.MapCompareApi();
app.MapArtifactsApi();
app.MapModelsApi();
app.MapDatasetsApi();
app.MapOpenAiApi();
app.MapOperationsApi();
app.Run();

public partial class Program;
