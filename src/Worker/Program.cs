using LoraService.ServiceDefaults;
using LoraService.Worker;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWorkerServices();

var app = builder.Build();
app.MapDefaultHealthChecks();
app.MapWorkerInfo();
app.Run();

public partial class Program;
