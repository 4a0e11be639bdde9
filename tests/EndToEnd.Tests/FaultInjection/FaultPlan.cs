using System.Globalization;

namespace LoraService.EndToEnd.Tests.FaultInjection;

/// <summary>What the schedule does at one moment.</summary>
public enum FaultKind
{
    CreateJob,
    /// <summary>Create a job and cancel it within milliseconds.</summary>
    CreateAndCancelAtOnce,
    /// <summary>Create a job and cancel it right after its first step.</summary>
    CreateAndCancelAfterFirstStep,
    CancelRandomJob,
    KillWorker,
    TerminateWorker,
    /// <summary>Start a worker whose Hangfire invisibility timeout (2 s) is shorter than anyone's lease.</summary>
    StartShortInvisibilityWorker,
    RestartApi,
}

public sealed record FaultEvent(TimeSpan At, FaultKind Kind, int Spec);

/// <summary>
/// The seeded schedule. LORA_FAULTS_SEED fixes the seed (printed at start so a failure can be replayed);
/// LORA_FAULTS_PROFILE=ci (default, ≤ 6 minutes on 2 cores) or soak (repeats rounds for LORA_FAULTS_MINUTES, default 30).
/// </summary>
public sealed record FaultPlan(int Seed, string Profile, TimeSpan Duration, int Workers, int JobsPerRound, int Steps, int CheckpointEvery, int DistinctSpecs,
    TimeSpan Window, TimeSpan TerminalBound)
{
    public static FaultPlan FromEnvironment()
    {
        var seedText = Environment.GetEnvironmentVariable("LORA_FAULTS_SEED");
        var seed = string.IsNullOrWhiteSpace(seedText) ? Random.Shared.Next(1, int.MaxValue) : int.Parse(seedText, CultureInfo.InvariantCulture);
        var profile = Environment.GetEnvironmentVariable("LORA_FAULTS_PROFILE") is { Length: > 0 } p ? p : "ci";
        var minutesText = Environment.GetEnvironmentVariable("LORA_FAULTS_MINUTES");
        var minutes = string.IsNullOrWhiteSpace(minutesText) ? 30 : double.Parse(minutesText, CultureInfo.InvariantCulture);
        return profile switch
        {
            "ci" => new FaultPlan(seed, profile, TimeSpan.Zero, Workers: 2, JobsPerRound: 20, Steps: 40, CheckpointEvery: 7, DistinctSpecs: 2,
                Window: TimeSpan.FromSeconds(75), TerminalBound: TimeSpan.FromSeconds(150)),
            "soak" => new FaultPlan(seed, profile, TimeSpan.FromMinutes(minutes), Workers: 3, JobsPerRound: 20, Steps: 60, CheckpointEvery: 7, DistinctSpecs: 4,
                Window: TimeSpan.FromSeconds(120), TerminalBound: TimeSpan.FromMinutes(5)),
            _ => throw new InvalidOperationException($"LORA_FAULTS_PROFILE must be ci or soak, not '{profile}'."),
        };
    }

    /// <summary>One round: the job creations spread over the first two thirds of the window, faults over all of it, sorted by time.</summary>
    public IReadOnlyList<FaultEvent> Round(Random random)
    {
        var events = new List<FaultEvent>();
        var creationSpan = Window.TotalMilliseconds * 2 / 3;
        for (var i = 0; i < JobsPerRound; i++)
        {
            var kind = (i % 7) switch { 2 => FaultKind.CreateAndCancelAtOnce, 5 => FaultKind.CreateAndCancelAfterFirstStep, _ => FaultKind.CreateJob };
            events.Add(new FaultEvent(TimeSpan.FromMilliseconds(random.NextDouble() * creationSpan), kind, random.Next(DistinctSpecs)));
        }
        // Every kind of fault at least once per round, then a few more drawn at random (API restarts stay at one a
        // round: each stalls the schedule for several seconds).
        FaultKind[] faults = [FaultKind.KillWorker, FaultKind.TerminateWorker, FaultKind.StartShortInvisibilityWorker, FaultKind.RestartApi, FaultKind.CancelRandomJob, FaultKind.CancelRandomJob];
        FaultKind[] more = [FaultKind.KillWorker, FaultKind.KillWorker, FaultKind.TerminateWorker, FaultKind.StartShortInvisibilityWorker, FaultKind.CancelRandomJob, FaultKind.CancelRandomJob];
        var extra = Enumerable.Range(0, 5).Select(_ => more[random.Next(more.Length)]);
        foreach (var kind in faults.Concat(extra))
            events.Add(new FaultEvent(TimeSpan.FromMilliseconds((0.1 + 0.9 * random.NextDouble()) * Window.TotalMilliseconds), kind, 0));
        return [.. events.OrderBy(e => e.At)];
    }
}
