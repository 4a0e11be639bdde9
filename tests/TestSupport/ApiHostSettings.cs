using Microsoft.AspNetCore.Hosting;

namespace LoraService.TestSupport;

/// <summary>What an in-process API test host needs: its database, the admin key, private data folders, quiet logs.</summary>
public static class ApiHostSettings
{
    public static void Apply(IWebHostBuilder builder, PostgresDatabase database, string dataDirectory)
    {
        builder.UseSetting("ConnectionStrings:Postgres", database.ConnectionString);
        builder.UseSetting("Auth:AdminKey", TestKeys.Admin);
        builder.UseSetting("Lora:ArtifactsPath", Path.Combine(dataDirectory, "artifacts"));
        builder.UseSetting("Lora:ModelsPath", Path.Combine(dataDirectory, "models"));
        builder.UseSetting("Serilog:MinimumLevel:Default", "Warning");
        // Tests seed held jobs by hand (some with expired leases): the reaper must not move them behind the test's back.
        builder.UseSetting("Worker:ReaperSeconds", "3600");
    }
}
