using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace LoraService.Domain.Persistence;

/// <summary>Lets `dotnet ef` build the model without a running host; no connection is opened.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<LoraDbContext>
{
    public LoraDbContext CreateDbContext(string[] args)
    {
        var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
            ?? "Host=localhost;Database=lora_design;Username=postgres";
        var options = new DbContextOptionsBuilder<LoraDbContext>();
        options.UseLoraPostgres(connectionString);
        return new LoraDbContext(options.Options);
    }
}
