using System.Text.Json;
using LoraService.Contracts.Jobs;
using LoraService.Training.Pipeline;
using LoraService.Training.Pipeline.Provenance;
using LoraService.Training.Loop;

namespace LoraService.Cli;

/// <summary>
/// <c>train SPEC.json</c>: one fine-tuning run on this machine, writing the artifacts the service serves. The spec is the
/// body of <c>POST /api/v1/jobs</c>, with a checkpoint folder as <c>base_model</c> and JSONL files as datasets.
/// </summary>
static class Train
{
    public static int Run(Args a, string specPath)
    {
        var quiet = a.Flag("quiet");
        var stem = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(specPath))!, Path.GetFileNameWithoutExtension(specPath));
        var output = a.Str("out") ?? stem + ".out";
        var work = a.Str("work") ?? stem + ".work";
        var device = a.Str("device") ?? "auto";
        a.EnsureAllUsed();
        if (!Enum.TryParse<DevicePreference>(device, ignoreCase: true, out var preference))
            throw new UsageException($"--device must be auto, cpu or cuda, not '{device}'");

        JobSpec job;
        try
        {
            job = JsonSerializer.Deserialize<JobSpec>(File.ReadAllText(specPath), JobSpecJson.Options) ?? throw new JsonException("the spec is null");
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new UsageException($"{specPath}: {e.Message}");
        }
        var (spec, errors) = LocalRunSpec.Build(job, Path.GetDirectoryName(Path.GetFullPath(specPath))!, work, output, preference);
        if (spec is null)
            throw new UsageException($"{specPath}:\n  " + string.Join("\n  ", errors));

        using var cancel = new CancellationTokenSource();
        // As in the service: past max_wall_time the run stops at a checkpoint (rerun to continue).
        if (spec.Job.MaxWallTime is { } wall) cancel.CancelAfter(wall);
        var interrupted = false;
        Console.CancelKeyPress += (_, e) =>
        {
            // First Ctrl-C: stop after this step and checkpoint (rerun the same spec to resume). Second: exit now.
            if (cancel.IsCancellationRequested) return;
            e.Cancel = true;
            interrupted = true;
            Console.Error.WriteLine("stopping after this step; rerun the same command to resume");
            cancel.Cancel();
        };

        var observer = new FineTuneCallbacks(
            onStep: p =>
            {
                if (!quiet) Console.WriteLine(FormatStep(p));
            },
            onEvaluation: (step, measurements) =>
            {
                foreach (var m in measurements)
                    Console.WriteLine($"eval step {step,5}  {m.Role,-10} {m.DatasetId:N}  {m.Metric,-14} {m.Value:F4}");
            },
            onSamples: (step, sets) =>
            {
                if (quiet) return;
                foreach (var set in sets)
                    foreach (var x in set.Samples)
                        Console.WriteLine($"sample step {step,5}  {set.Role,-10} {set.Name}  {(x.Correct ? "right" : "wrong")}  {OneLine(x.Prompt)} → {OneLine(x.Output)} (expected {OneLine(x.Expected)})");
            },
            onCheckpoint: (step, directory) => Console.WriteLine($"checkpoint step {step} → {directory}"),
            onEvent: (level, message) => Console.Error.WriteLine($"[{level}] {message}"));

        FineTuneRunResult result;
        try
        {
            result = FineTuneRun.Execute(spec, observer, cancel.Token);
        }
        catch (BaseModelChangedException e)
        {
            Console.Error.WriteLine($"error: {e.Message} To start over, remove {spec.WorkDirectory}.");
            return 1;
        }
        catch (RunRefusedException e)
        {
            Console.Error.WriteLine($"error ({e.Code}): {e.Message}");
            return 1;
        }
        if (result.Outcome == RunOutcome.Cancelled && !interrupted && spec.Job.MaxWallTime is { } limit)
            Console.Error.WriteLine($"[info] stopped at max_wall_time ({limit}); rerun the same command to continue from the checkpoint");
        Console.WriteLine($"{result.Outcome.ToString().ToLowerInvariant()}: {result.StepsCompleted}/{result.TotalSteps} steps, {result.TokensSeen} tokens");
        foreach (var file in result.Files)
            Console.WriteLine($"  {file.Kind,-16} {Path.Combine(spec.OutputDirectory, file.RelativePath)}");
        return result.Outcome switch
        {
            RunOutcome.Completed => 0,
            RunOutcome.Cancelled => 130,
            _ => 1,
        };
    }

    static string FormatStep(TrainingProgress p) =>
        $"step {p.Step,5}/{p.TotalSteps}  epoch {p.Epoch:F2}  loss {p.Loss:F4}  lr {p.LearningRate:E2}  grad {p.GradNorm:F3}  " +
        $"{p.TokensPerSecond:F0} tok/s  ETA {p.Eta:hh\\:mm\\:ss}";

    /// <summary>A sample's text on one terminal line: newlines shown as ⏎, at most 80 characters.</summary>
    static string OneLine(string text)
    {
        var line = text.ReplaceLineEndings("⏎");
        return line.Length <= 80 ? line : line[..79] + "…";
    }
}
