using LoraService.Domain.Datasets;
using LoraService.Domain.Models;
using LoraService.Domain.Tenants;
using System.Net.Http.Json;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

/// <summary>Rows the job tests build on, written straight to the real database.</summary>
internal static class Seed
{
    public static async Task<Guid> AdminTenantAsync(PostgresDatabase database)
    {
        await using var db = database.CreateContext();
        return (await db.ApiKeys.SingleAsync(k => k.IsAdmin)).TenantId;
    }

    public static async Task<BaseModel> ModelAsync(PostgresDatabase database, string? name = null)
    {
        await using var db = database.CreateContext();
        var model = new BaseModel
        {
            Name = name ?? "tiny-" + Guid.NewGuid().ToString("N")[..8], Architecture = "LlamaForCausalLM", Parameters = 100_000,
            Layers = 2, HiddenSize = 64, VocabSize = 257, MaxPositions = 128, Dtype = "float32", HasTokenizer = true,
            LoraTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        };
        db.BaseModels.Add(model);
        await db.SaveChangesAsync();
        return model;
    }

    public static async Task<Dataset> DatasetAsync(PostgresDatabase database, Guid tenantId, string format = "text")
    {
        await using var db = database.CreateContext();
        var dataset = new Dataset { TenantId = tenantId, Name = format + "-set", Format = format, Rows = 10, Bytes = 100, Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), StorageKey = $"datasets/{Guid.NewGuid():N}.jsonl" };
        db.Datasets.Add(dataset);
        await db.SaveChangesAsync();
        return dataset;
    }

    public static async Task<(Guid TenantId, string Key)> OtherTenantAsync(ApiFactory factory)
    {
        var admin = factory.CreateClient(TestKeys.Admin);
        var response = await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "other-" + Guid.NewGuid().ToString("N")[..8] });
        var issued = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>())!;
        return (issued.GetProperty("tenant_id").GetGuid(), issued.GetProperty("key").GetString()!);
    }
}
