using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Contracts;
using Microsoft.EntityFrameworkCore;

namespace LoraService.EndToEnd.Tests;

/// <summary>
/// One job's fault fails that attempt only: a native crash, a hang and an out-of-memory error in the attempt's child
/// process leave the worker running, and the job resumes from its checkpoint until the job's max_attempts. Faults are
/// injected with the engine's failpoints (LORA_FAILPOINT, inherited by the attempt process).
/// </summary>
public sealed class AttemptFaultTests(Service service) : IClassFixture<Service>
{
    private static string Status(JsonElement job) => job.GetProperty("status").GetString()!;

    private async Task<List<(int Attempt, string? Outcome, string? Detail)>> AttemptsAsync(Guid id)
    {
        await using var db = service.Database.CreateContext();
        return (await db.JobAttempts.Where(a => a.JobId == id).OrderBy(a => a.Attempt).ToListAsync())
            .Select(a => (a.Attempt, a.Outcome, a.Detail)).ToList();
    }

    private async Task AssertEveryStepOnceAsync(Guid id, int steps)
    {
        await using var db = service.Database.CreateContext();
        Assert.Equal(Enumerable.Range(1, steps),
            await db.MetricPoints.Where(m => m.JobId == id && m.Name == MetricNames.TrainLoss).OrderBy(m => m.Step).Select(m => m.Step).ToListAsync());
    }

    [Fact]
    public async Task A_native_crash_fails_that_attempt_only_and_the_job_resumes_on_the_same_worker()
    {
        await using var worker = await service.StartWorkerAsync("crash-worker", new Dictionary<string, string>
        {
            ["LORA_FAILPOINT"] = "crash@5", ["LORA_FAILPOINT_ATTEMPT"] = "1",
        });
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("crash-once-model");
        var id = await service.CreateJobAsync(JobSpecs.Lora("crash-once-model", train, valid, target, source, steps: 8, checkpointEvery: 2));

        var job = await service.WaitForJobAsync(id, j => Status(j) == "succeeded", TimeSpan.FromMinutes(3), "the job after its crashed attempt");
        Assert.Equal(2, job.GetProperty("attempt").GetInt32());
        Assert.False(worker.HasExited);
        var attempts = await AttemptsAsync(id);
        Assert.Equal("crashed", attempts[0].Outcome);
        Assert.Contains("signal 9", attempts[0].Detail);
        Assert.Equal("completed", attempts[1].Outcome);
        await AssertEveryStepOnceAsync(id, 8);
        var events = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/events");
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("type").GetString() == "crashed");
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("message").GetString()!.Contains("Resuming from step 4"));
    }

    [Fact]
    public async Task A_job_past_its_max_wall_time_stops_at_a_checkpoint_and_fails_and_a_retry_resumes_it()
    {
        await using var worker = await service.StartWorkerAsync("wall-time-worker");
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("wall-time-model");
        var spec = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(JobSpecs.Lora("wall-time-model", train, valid, target, source, steps: 4000, checkpointEvery: 5)))!;
        spec["max_wall_time"] = "00:00:15";
        var id = await service.CreateJobAsync(spec);

        var failed = await service.WaitForJobAsync(id, j => Status(j) == "failed", TimeSpan.FromMinutes(2), "the job to stop at its max_wall_time");
        Assert.Equal("max_wall_time", failed.GetProperty("error").GetProperty("code").GetString());
        var started = failed.GetProperty("started_at").GetDateTimeOffset();
        var finished = failed.GetProperty("finished_at").GetDateTimeOffset();
        Assert.InRange((finished - started).TotalSeconds, 15, 15 + 30);
        var stoppedAt = failed.GetProperty("progress").GetProperty("step").GetInt32();
        Assert.InRange(stoppedAt, 1, 3999);
        Assert.Equal("max_wall_time", (await AttemptsAsync(id)).Single().Outcome);
        var checkpoints = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/checkpoints");
        Assert.Contains(checkpoints.EnumerateArray(), c => c.GetProperty("step").GetInt32() == stoppedAt);

        Assert.True((await service.Client.PostAsync($"/api/v1/jobs/{id}/retry", null)).IsSuccessStatusCode);
        var resumed = await service.WaitForJobAsync(id, j => Status(j) == "running" && j.GetProperty("progress").GetProperty("step").GetInt32() > stoppedAt,
            TimeSpan.FromMinutes(2), "the retried job to train past its checkpoint");
        Assert.Equal(2, resumed.GetProperty("attempt").GetInt32());
        await service.Client.PostAsync($"/api/v1/jobs/{id}/cancel", null);
        await service.WaitForJobAsync(id, j => Status(j) == "cancelled", TimeSpan.FromMinutes(1), "the cancel");
    }

    [Fact]
    public async Task A_hung_attempt_is_killed_and_the_job_resumes_from_its_checkpoint()
    {
        await using var worker = await service.StartWorkerAsync("hang-worker", new Dictionary<string, string>
        {
            ["LORA_FAILPOINT"] = "hang@3", ["LORA_FAILPOINT_ATTEMPT"] = "1", ["Worker__HangAfterSeconds"] = "4",
        });
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("hang-model");
        var id = await service.CreateJobAsync(JobSpecs.Lora("hang-model", train, valid, target, source, steps: 6, checkpointEvery: 2));

        var job = await service.WaitForJobAsync(id, j => Status(j) == "succeeded", TimeSpan.FromMinutes(3), "the job after its hung attempt");
        Assert.Equal(2, job.GetProperty("attempt").GetInt32());
        Assert.False(worker.HasExited);
        Assert.Equal("hung", (await AttemptsAsync(id))[0].Outcome);
        await AssertEveryStepOnceAsync(id, 6);
    }

    [Fact]
    public async Task Running_out_of_memory_every_time_fails_the_job_after_max_attempts_and_a_retry_resumes_it_from_its_checkpoint()
    {
        Guid id;
        await using (var worker = await service.StartWorkerAsync("oom-worker", new Dictionary<string, string>
        {
            ["LORA_FAILPOINT"] = "oom@3",
        }))
        {
            var (train, valid, target, source) = await service.PrepareArithmeticAsync("oom-model");
            id = await service.CreateJobAsync(JobSpecs.Lora("oom-model", train, valid, target, source, steps: 6, checkpointEvery: 2, maxAttempts: 2));
            var failed = await service.WaitForJobAsync(id, j => Status(j) == "failed", TimeSpan.FromMinutes(3), "out_of_memory twice");
            Assert.Equal("out_of_memory", failed.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(2, failed.GetProperty("attempt").GetInt32());
            Assert.Equal(["out_of_memory", "out_of_memory"], (await AttemptsAsync(id)).Select(a => a.Outcome));
            Assert.False(worker.HasExited);
            await worker.StopAsync(TimeSpan.FromSeconds(60));
        }

        // The conflict for a finished job, then the retry on a healthy worker: a new attempt, resumed from step 2.
        Assert.Equal(System.Net.HttpStatusCode.Conflict, (await service.Client.PostAsync($"/api/v1/jobs/{id}/cancel", null)).StatusCode);
        var retried = await service.Client.PostAsync($"/api/v1/jobs/{id}/retry", null);
        Assert.Equal("queued", (await retried.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        await using var healthy = await service.StartWorkerAsync("healthy-worker");
        var done = await service.WaitForJobAsync(id, j => Status(j) == "succeeded", TimeSpan.FromMinutes(3), "the retried job");
        Assert.Equal(3, done.GetProperty("attempt").GetInt32());
        await AssertEveryStepOnceAsync(id, 6);
        var events = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/events");
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("type").GetString() == "retried");
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("message").GetString()!.Contains("Resuming from step 2"));
    }
}
