using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace LoraService.EndToEnd.Tests;

/// <summary>A tiny sweep trained by a real worker: each child ends on the learning/forgetting plane with the summary's numbers.</summary>
public sealed class SweepTests(Service service) : IClassFixture<Service>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        if (service.WorkerOutput().Length == 0) await service.StartWorkerAsync("sweep-worker");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_lora_and_a_full_child_train_to_success_and_the_sweep_places_both_with_a_front()
    {
        await service.CreateModelAsync("sweep-llama", "llama");
        var train = await service.UploadAsync("arith-train");
        var target = await service.UploadAsync("arith-valid");
        var source = await service.UploadAsync("source-text");
        var body = new
        {
            name = "e2e-sweep",
            @base = new
            {
                base_model = "sweep-llama",
                training_dataset = train,
                lora = new { rank = 4 },
                hyperparameters = new { learning_rate = 3e-3, max_steps = 6, batch_size = 4, micro_batch_size = 4, max_sequence_length = 32, seed = 5 },
                evaluation = new { target = new[] { target }, source = new[] { source }, every_n_steps = 3, max_examples = 8 },
                checkpoint_every = 0,
            },
            grid = new Dictionary<string, object[]> { ["method"] = ["lora", "full"] },
        };
        var created = await service.Client.PostAsJsonAsync("/api/v1/sweeps", body);
        var sweep = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(created.StatusCode == HttpStatusCode.Created, sweep.ToString());
        var children = sweep.GetProperty("children").EnumerateArray().Select(c => c.GetProperty("job_id").GetGuid()).ToList();
        Assert.Equal(2, children.Count);

        foreach (var child in children)
            await service.WaitForJobAsync(child, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), $"sweep child {child}");

        var done = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/sweeps/{sweep.GetProperty("id").GetGuid()}");
        Assert.Equal(2, done.GetProperty("statuses").GetProperty("succeeded").GetInt32());
        Assert.Equal(("loss", "loss"), (done.GetProperty("learning_metric").GetString(), done.GetProperty("forgetting_metric").GetString()));
        foreach (var child in done.GetProperty("children").EnumerateArray())
        {
            // The same numbers as the job's own summary.
            var summary = (await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{child.GetProperty("job_id").GetGuid()}/summary")).GetProperty("summary");
            Assert.Equal(summary.GetProperty("learning").GetProperty("loss").GetDouble(), child.GetProperty("learning").GetDouble(), 12);
            Assert.Equal(summary.GetProperty("forgetting").GetProperty("loss").GetDouble(), child.GetProperty("forgetting").GetDouble(), 12);
            Assert.Equal([0, 3, 6], child.GetProperty("path").EnumerateArray().Select(p => p.GetProperty("step").GetInt32()));
        }
        Assert.Equal(["lora", "full"], done.GetProperty("children").EnumerateArray().Select(c => c.GetProperty("method").GetString()));
        var front = done.GetProperty("front").EnumerateArray().Select(f => f.GetGuid()).ToList();
        Assert.NotEmpty(front);
        Assert.Contains(done.GetProperty("best").GetGuid(), front);
    }
}
