using LoraService.Training.Pipeline;
using LoraService.Training.Training;

namespace LoraService.Cli;

/// <summary><c>train spec.json</c>: one fine-tuning run on this machine, writing the artifacts the service serves.</summary>
static class Train
{
    public static int Run(Args a, string specPath)
    {
        var quiet = a.Flag("quiet");
        a.EnsureAllUsed();
        var spec = FineTuneRunSpec.Load(specPath);
        if (spec.Validate() is { Count: > 0 } errors)
            throw new UsageException($"{specPath}: " + string.Join("; ", errors));

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // First Ctrl-C: stop after this step and checkpoint (rerun the same spec to resume). Second: exit now.
            if (cancel.IsCancellationRequested) return;
            e.Cancel = true;
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
            onCheckpoint: (step, directory) => Console.WriteLine($"checkpoint step {step} → {directory}"),
            onEvent: (level, message) => Console.Error.WriteLine($"[{level}] {message}"));

        var result = FineTuneRun.Execute(spec, observer, cancel.Token);
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
}
