using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

public sealed class SamplesApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    static EvaluationSample Sample(Guid job, int step, string role, Guid set, string name, int index, string output, bool correct = false) => new()
    {
        JobId = job, Step = step, Role = role, DatasetId = set, DatasetName = name, Index = index,
        Prompt = $"prompt {index}", Output = output, Expected = "42", Correct = correct,
    };

    [Fact]
    public async Task Samples_of_the_latest_or_a_chosen_step_grouped_by_set_target_first()
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var job = new FineTuneJob { TenantId = tenant, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        var (target, source) = (Guid.NewGuid(), Guid.NewGuid());
        await using (var db = factory.Database.CreateContext())
        {
            db.Jobs.Add(job);
            db.EvaluationSamples.AddRange(
                Sample(job.Id, 0, "source", source, "facts", 0, "Paris"),
                Sample(job.Id, 0, "target", target, "arith", 1, "#### 41"),
                Sample(job.Id, 0, "target", target, "arith", 0, "#### 7"),
                Sample(job.Id, 10, "target", target, "arith", 0, "#### 42", correct: true),
                Sample(job.Id, 10, "source", source, "facts", 0, "<img src=x onerror=alert(1)>"));
            await db.SaveChangesAsync();
        }
        var client = factory.CreateClient(TestKeys.Admin);

        var latest = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/samples");
        Assert.Equal([0, 10], latest.GetProperty("steps").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal(10, latest.GetProperty("step").GetInt32());
        var sets = latest.GetProperty("sets").EnumerateArray().ToList();
        Assert.Equal(["target", "source"], sets.Select(s => s.GetProperty("role").GetString()));
        var right = sets[0].GetProperty("samples")[0];
        Assert.Equal(("prompt 0", "#### 42", "42", true), (right.GetProperty("prompt").GetString(), right.GetProperty("output").GetString(),
            right.GetProperty("expected").GetString(), right.GetProperty("correct").GetBoolean()));
        Assert.Equal("<img src=x onerror=alert(1)>", sets[1].GetProperty("samples")[0].GetProperty("output").GetString()); // data, not markup

        var baseline = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/samples?step=0");
        var arith = baseline.GetProperty("sets")[0];
        Assert.Equal(("arith", target), (arith.GetProperty("name").GetString(), arith.GetProperty("dataset_id").GetGuid()));
        Assert.Equal(["#### 7", "#### 41"], arith.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("output").GetString()));

        var unknown = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/samples?step=5");
        Assert.Equal((5, 0), (unknown.GetProperty("step").GetInt32(), unknown.GetProperty("sets").GetArrayLength()));
    }

    [Fact]
    public async Task No_samples_yet_bad_steps_and_other_tenants_jobs()
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var job = new FineTuneJob { TenantId = tenant, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        await using (var db = factory.Database.CreateContext())
        {
            db.Jobs.Add(job);
            db.EvaluationSamples.Add(Sample(job.Id, 0, "target", Guid.NewGuid(), "arith", 0, "x"));
            var empty = new FineTuneJob { TenantId = tenant, Spec = job.Spec };
            db.Jobs.Add(empty);
            await db.SaveChangesAsync();
            var none = await factory.CreateClient(TestKeys.Admin).GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{empty.Id}/samples");
            Assert.Equal((0, JsonValueKind.Null, 0), (none.GetProperty("steps").GetArrayLength(), none.GetProperty("step").ValueKind, none.GetProperty("sets").GetArrayLength()));
        }
        var admin = factory.CreateClient(TestKeys.Admin);

        var negative = await admin.GetAsync($"/api/v1/jobs/{job.Id}/samples?step=-1");
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        Assert.Equal("application/problem+json", negative.Content.Headers.ContentType?.MediaType);
        Assert.Contains("step", (await negative.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(e => e.Name));
        var notANumber = await admin.GetAsync($"/api/v1/jobs/{job.Id}/samples?step=abc");
        Assert.Equal(HttpStatusCode.BadRequest, notANumber.StatusCode);
        Assert.Equal("application/problem+json", notANumber.Content.Headers.ContentType?.MediaType);

        var (_, otherKey) = await Seed.OtherTenantAsync(factory);
        Assert.Equal(HttpStatusCode.NotFound, (await factory.CreateClient(otherKey).GetAsync($"/api/v1/jobs/{job.Id}/samples")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"/api/v1/jobs/{Guid.NewGuid()}/samples")).StatusCode);
    }
}
