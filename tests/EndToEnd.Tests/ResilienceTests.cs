using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Domain.Jobs;
using Microsoft.EntityFrameworkCore;
using LoraService.Contracts;

namespace LoraService.EndToEnd.Tests;

/// <summary>Cancel, a worker killed with SIGKILL mid-job, and two workers on one queue.</summary>
public sealed class ResilienceTests(Service service) : IClassFixture<Service>
{
    private static int Step(JsonElement job) => job.GetProperty("progress").GetProperty("step").GetInt32();

    [Fact]
    public async Task A_cancel_lets_at_most_the_step_in_progress_finish_and_keeps_a_checkpoint_of_the_last_one()
    {
        const double heartbeatSeconds = 1;
        await using var worker = await service.StartWorkerAsync("cancel-worker",
            new Dictionary<string, string> { ["Worker__HeartbeatSeconds"] = heartbeatSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("cancel-model");
        var id = await service.CreateJobAsync(JobSpecs.Lora("cancel-model", train, valid, target, source, steps: 400, checkpointEvery: 100));
        await service.WaitForJobAsync(id, j => Step(j) >= 2, TimeSpan.FromMinutes(3), "two training steps");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var seen = Step(await service.GetJobAsync(id));
        var cancel = await service.Client.PostAsync($"/api/v1/jobs/{id}/cancel", null);
        var sinceRead = clock.Elapsed.TotalSeconds;
        Assert.Equal("cancelling", (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        var job = await service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "cancelled", TimeSpan.FromSeconds(60), "the cancel");
        var last = Step(job);

        // The step the API showed comes from the latest heartbeat, at most a period old, which found step seen + 1 still
        // running. The cancel reached the run at most sinceRead + delivery (NOTIFY, the child's pipe; 2 s on a loaded
        // machine) after that. So by the run's own clock every step but the one then in progress ended within
        // heartbeat + sinceRead + delivery of step seen + 1; the step in progress may finish, no other may start.
        const double delivery = 2;
        await using var db = service.Database.CreateContext();
        var endedAt = await db.MetricPoints.Where(m => m.JobId == id && m.Name == MetricNames.ElapsedSeconds).ToDictionaryAsync(m => m.Step, m => m.Value);
        Assert.Equal(Enumerable.Range(1, last), endedAt.Keys.Order());
        if (last - 1 > seen + 1)
            Assert.True(endedAt[last - 1] - endedAt[seen + 1] <= heartbeatSeconds + sinceRead + delivery,
                $"saw step {seen}, stopped after {last}: step {last - 1} ended {endedAt[last - 1] - endedAt[seen + 1]:F2} s after step {seen + 1}");

        var checkpoints = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/checkpoints");
        Assert.NotEqual(0, checkpoints.GetArrayLength());
        // Each listed checkpoint is still on disk (the engine keeps the newest two) and carries the train loss of its step.
        Assert.InRange(checkpoints.GetArrayLength(), 1, 2);
        Assert.All(checkpoints.EnumerateArray(), c => Assert.True(c.GetProperty("metrics").TryGetProperty(MetricNames.TrainLoss, out _), c.ToString()));
        Assert.Contains(checkpoints.EnumerateArray(), c => c.GetProperty("step").GetInt32() == last);
        var artifacts = await service.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}/artifacts");
        Assert.Equal(0, artifacts.GetArrayLength());
    }

    [Fact]
    public async Task A_killed_worker_s_job_resumes_elsewhere_without_lost_or_duplicated_metrics_and_matches_an_uninterrupted_run()
    {
        var doomed = await service.StartWorkerAsync("doomed-worker");
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("crash-model");
        // Long enough that the kill lands mid-run: a tiny model runs many steps per second.
        const int steps = 60;
        var spec = JobSpecs.Lora("crash-model", train, valid, target, source, steps: steps, checkpointEvery: 4);

        var crashed = await service.CreateJobAsync(spec);
        await service.WaitForJobAsync(crashed, j => Step(j) >= 6, TimeSpan.FromMinutes(3), "six steps before the crash");
        doomed.Kill();

        await using var rescuer = await service.StartWorkerAsync("rescue-worker");
        var resumed = await service.WaitForJobAsync(crashed, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), "the resumed job");
        Assert.Equal(2, resumed.GetProperty("attempt").GetInt32());
        Assert.StartsWith("rescue-worker", resumed.GetProperty("worker_id").GetString());

        var reference = await service.CreateJobAsync(spec);
        await service.WaitForJobAsync(reference, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), "the uninterrupted reference job");

        await using var db = service.Database.CreateContext();
        var crashedLoss = await db.MetricPoints.Where(m => m.JobId == crashed && m.Name == MetricNames.TrainLoss).OrderBy(m => m.Step).ToListAsync();
        var referenceLoss = await db.MetricPoints.Where(m => m.JobId == reference && m.Name == MetricNames.TrainLoss).OrderBy(m => m.Step).ToListAsync();
        Assert.Equal(Enumerable.Range(1, steps), crashedLoss.Select(m => m.Step));
        for (var i = 0; i < steps; i++) Assert.Equal(referenceLoss[i].Value, crashedLoss[i].Value, 4);

        var finalName = MetricNames.Eval(MetricNames.Validation, valid, "loss");
        var crashedFinal = await db.MetricPoints.SingleAsync(m => m.JobId == crashed && m.Name == finalName && m.Step == steps);
        var referenceFinal = await db.MetricPoints.SingleAsync(m => m.JobId == reference && m.Name == finalName && m.Step == steps);
        Assert.Equal(referenceFinal.Value, crashedFinal.Value, 4);
        Assert.Equal(1, await db.MetricPoints.CountAsync(m => m.JobId == crashed && m.Name == finalName && m.Step == 0));
        Assert.Contains(await db.JobEvents.Where(e => e.JobId == crashed).Select(e => e.Message).ToListAsync(), m => m.Contains("took the job over"));
    }

    [Fact]
    public async Task A_worker_stopped_gracefully_hands_its_job_back_and_the_next_worker_finishes_it()
    {
        var leaving = await service.StartWorkerAsync("leaving-worker");
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("rollout-model");
        var id = await service.CreateJobAsync(JobSpecs.Lora("rollout-model", train, valid, target, source, steps: 80, checkpointEvery: 1000));
        await service.WaitForJobAsync(id, j => Step(j) >= 3, TimeSpan.FromMinutes(3), "three steps before the rollout");

        await leaving.StopAsync(TimeSpan.FromSeconds(30));
        var handedBack = await service.GetJobAsync(id);
        Assert.Equal("queued", handedBack.GetProperty("status").GetString());

        await using var next = await service.StartWorkerAsync("next-worker");
        var done = await service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), "the handed-back job");
        Assert.Equal(2, done.GetProperty("attempt").GetInt32());

        await using var db = service.Database.CreateContext();
        Assert.Equal(Enumerable.Range(1, 80), await db.MetricPoints.Where(m => m.JobId == id && m.Name == MetricNames.TrainLoss).OrderBy(m => m.Step).Select(m => m.Step).ToListAsync());
        var messages = await db.JobEvents.Where(e => e.JobId == id).Select(e => e.Message).ToListAsync();
        Assert.Contains(messages, m => m.Contains("will resume from its last checkpoint"));
        Assert.Contains(messages, m => m.Contains("Resuming", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Two_workers_never_run_the_same_job_twice()
    {
        await using var first = await service.StartWorkerAsync("worker-a");
        await using var second = await service.StartWorkerAsync("worker-b");
        var (train, valid, target, source) = await service.PrepareArithmeticAsync("shared-model");
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
            ids.Add(await service.CreateJobAsync(JobSpecs.Lora("shared-model", train, valid, target, source, steps: 4, checkpointEvery: 0)));
        foreach (var id in ids)
            await service.WaitForJobAsync(id, j => j.GetProperty("status").GetString() == "succeeded", TimeSpan.FromMinutes(4), $"job {id}");

        await using var db = service.Database.CreateContext();
        var jobs = await db.Jobs.Where(j => ids.Contains(j.Id)).ToListAsync();
        Assert.All(jobs, j => Assert.Equal(1, j.Attempt));
        foreach (var id in ids)
            Assert.Equal(1, await db.JobEvents.CountAsync(e => e.JobId == id && e.Message.Contains("started the job")));
    }
}
