using LoraService.Api;
using LoraService.Api.Endpoints;
using LoraService.Api.OpenAi;
using LoraService.ServiceDefaults;

var migrationCommand = MigrationCommands.Requested(args, out args);
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApiServices();

var app = builder.Build();
if (migrationCommand is not null)
{
    await MigrationCommands.RunAsync(app, migrationCommand);
    return;
}
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
await app.RunAsync();

public partial class Program;
