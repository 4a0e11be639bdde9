using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

public sealed class ModelsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private HttpClient Admin => factory.CreateClient(TestKeys.Admin);

    private async Task<string> UnsupportedModelAsync(string reason)
    {
        var model = await Seed.ModelAsync(factory.Database);
        await using var db = factory.Database.CreateContext();
        await db.BaseModels.Where(m => m.Id == model.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.Supported, false).SetProperty(m => m.UnsupportedReason, reason));
        return model.Name;
    }

    [Fact]
    public async Task Models_say_whether_they_are_supported_and_why_not()
    {
        var supported = (await Seed.ModelAsync(factory.Database)).Name;
        var unsupported = await UnsupportedModelAsync("rope_scaling.rope_type: yarn is not supported");

        var ok = await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/models/{supported}");
        Assert.True(ok.GetProperty("supported").GetBoolean());
        Assert.Equal(JsonValueKind.Null, ok.GetProperty("unsupported_reason").ValueKind);
        var list = await Admin.GetFromJsonAsync<JsonElement>("/api/v1/models");
        var refused = list.EnumerateArray().Single(m => m.GetProperty("name").GetString() == unsupported);
        Assert.False(refused.GetProperty("supported").GetBoolean());
        Assert.Equal("rope_scaling.rope_type: yarn is not supported", refused.GetProperty("unsupported_reason").GetString());
    }

    [Fact]
    public async Task A_job_on_an_unsupported_model_is_a_422_on_base_model_naming_the_reason()
    {
        var name = await UnsupportedModelAsync("quantization_config: gptq is not supported (quantized weights cannot be loaded)");
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var train = await Seed.DatasetAsync(factory.Database, tenant, "text");

        var response = await Admin.PostAsJsonAsync("/api/v1/jobs", new { base_model = name, training_dataset = train.Id });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        var message = Assert.Single(errors.GetProperty("base_model").EnumerateArray()).GetString();
        Assert.Contains("quantization_config: gptq", message);
    }
}
