using LoraService.Contracts.Jobs;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using LoraService.Contracts;

namespace LoraService.Api.Tests;

public sealed class MetricsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Metrics_come_as_columns_after_a_step_and_filter_by_name()
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var job = new FineTuneJob { TenantId = tenant, Spec = new JobSpec { BaseModel = "m", TrainingDataset = Guid.NewGuid().ToString() } };
        var set = Guid.NewGuid();
        await using (var db = factory.Database.CreateContext())
        {
            db.Jobs.Add(job);
            for (var step = 1; step <= 10; step++)
            {
                db.MetricPoints.Add(new MetricPoint { JobId = job.Id, Name = MetricNames.TrainLoss, Step = step, Value = 10 - step });
                db.MetricPoints.Add(new MetricPoint { JobId = job.Id, Name = MetricNames.LearningRate, Step = step, Value = step * 1e-4 });
            }
            db.MetricPoints.Add(new MetricPoint { JobId = job.Id, Name = MetricNames.Eval(MetricNames.Source, set, "acc"), Step = 0, Value = 0.5 });
            await db.SaveChangesAsync();
        }
        var client = factory.CreateClient(TestKeys.Admin);

        var all = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/metrics");
        Assert.Equal(3, all.GetProperty("series").EnumerateObject().Count());
        Assert.Equal(10, all.GetProperty("last_step").GetInt32());

        var tail = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/metrics?after=7&names=train/loss");
        var loss = tail.GetProperty("series").GetProperty("train/loss");
        Assert.Equal([8, 9, 10], loss.GetProperty("steps").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal([2.0, 1.0, 0.0], loss.GetProperty("values").EnumerateArray().Select(s => s.GetDouble()));
        Assert.Single(tail.GetProperty("series").EnumerateObject());

        var nothingNew = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/metrics?after=10");
        Assert.Empty(nothingNew.GetProperty("series").EnumerateObject());
        Assert.Equal(10, nothingNew.GetProperty("last_step").GetInt32());
    }

    [Fact]
    public async Task The_summary_compares_baseline_and_final_per_set()
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var target = await Seed.DatasetAsync(factory.Database, tenant, "exact_match");
        var source = await Seed.DatasetAsync(factory.Database, tenant, "multiple_choice");
        var job = new FineTuneJob { TenantId = tenant, Spec = new JobSpec { BaseModel = "m", TrainingDataset = target.Id.ToString(), Evaluation = new EvaluationSettings { Source = [source.Id.ToString()] } } };
        await using (var db = factory.Database.CreateContext())
        {
            db.Jobs.Add(job);
            void Point(string role, Guid set, string metric, int step, double value) =>
                db.MetricPoints.Add(new MetricPoint { JobId = job.Id, Name = MetricNames.Eval(role, set, metric), Step = step, Value = value });
            Point(MetricNames.Target, target.Id, "exact_match", 0, 0.10);
            Point(MetricNames.Target, target.Id, "exact_match", 50, 0.40);
            Point(MetricNames.Target, target.Id, "loss", 0, 3.0);
            Point(MetricNames.Target, target.Id, "loss", 50, 2.0);
            Point(MetricNames.Source, source.Id, "acc_norm", 0, 0.60);
            Point(MetricNames.Source, source.Id, "acc_norm", 25, 0.58);
            Point(MetricNames.Source, source.Id, "acc_norm", 50, 0.55);
            await db.SaveChangesAsync();
        }

        var summary = await factory.CreateClient(TestKeys.Admin).GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/summary");
        var body = summary.GetProperty("summary");
        Assert.Equal(0.30, body.GetProperty("learning").GetProperty("exact_match").GetDouble(), 9);
        Assert.Equal(1.0, body.GetProperty("learning").GetProperty("loss").GetDouble(), 9);
        Assert.Equal(0.05, body.GetProperty("forgetting").GetProperty("acc_norm").GetDouble(), 9);
        var sourceRow = body.GetProperty("evaluations").EnumerateArray().Single(e => e.GetProperty("role").GetString() == "source");
        Assert.Equal((0.60, 0.55, 50), (sourceRow.GetProperty("baseline").GetDouble(), sourceRow.GetProperty("final").GetDouble(), sourceRow.GetProperty("final_step").GetInt32()));
        Assert.Equal(source.Name, summary.GetProperty("dataset_names").GetProperty(source.Id.ToString()).GetString());

        // Before the run wrote its own: the stored spec and the digests recorded at upload; no weights digest yet.
        var provenance = summary.GetProperty("provenance");
        Assert.Equal("m", provenance.GetProperty("job").GetProperty("base_model").GetString());
        Assert.Equal(source.Sha256, provenance.GetProperty("datasets").GetProperty(source.Id.ToString()).GetProperty("sha256").GetString());
        Assert.Equal(target.Sha256, provenance.GetProperty("datasets").GetProperty(target.Id.ToString()).GetProperty("sha256").GetString());
        Assert.Equal(JsonValueKind.Null, provenance.GetProperty("base_model").ValueKind);
    }
}
