using System.Text.Json;
using LoraService.Contracts;
using LoraService.Training.Loop;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>
/// The newest checkpoint in the work directory and its step: where this sitting continues from (both null: a fresh
/// start), and what it takes over from the journal.
/// </summary>
internal sealed record ResumePoint(string? Checkpoint, int? Step)
{
    public bool IsResume => Checkpoint is not null;

    /// <summary>Creates the work directory if needed and finds its newest checkpoint.</summary>
    public static ResumePoint Open(string workDirectory)
    {
        Directory.CreateDirectory(workDirectory);
        return Find(workDirectory);
    }

    /// <summary>The newest checkpoint, if the work directory exists (it may be unset when an invalid spec was cancelled).</summary>
    public static ResumePoint Find(string? workDirectory)
    {
        var latest = Directory.Exists(workDirectory)
            ? TrainingCheckpoint.Latest(Path.Combine(workDirectory, RunLayout.CheckpointsFolder))
            : null;
        return latest is null ? new ResumePoint(null, null) : new ResumePoint(latest, ReadState(latest).Step);
    }

    /// <summary>On resume: says so, sends the journal again from the step the caller asked for, and warns of a missing baseline.</summary>
    public void Announce(RunContext run, MetricsJournal journal, EvaluationSets evals)
    {
        if (!IsResume) return;
        run.Info($"Resuming from step {Step} ({Checkpoint})");
        if (run.Spec.ReplayMetricsFromStep is { } from)
            // The evaluation timing lives in the journal and summary.json only; the observer never sees it live either.
            foreach (var chunk in journal.Records.Where(r => r.Step >= from && r.Name != MetricNames.EvaluationSeconds).Chunk(2000))
                run.Observer.OnReplay(chunk);
        if (evals.Any && !journal.Records.Any(r => r.Step == 0 && r.Name.StartsWith("eval/", StringComparison.Ordinal)))
            run.Warn($"The work directory's {MetricsJournal.FileName} has no step-0 evaluation: summary.json will lack baseline comparisons");
    }

    /// <summary>Training seconds of the sittings before this one, so elapsed time counts across resumes.</summary>
    public double PriorSeconds(MetricsJournal journal) =>
        Step is { } step ? journal.Records.LastOrDefault(r => r.Step == step && r.Name == MetricNames.ElapsedSeconds)?.Value ?? 0 : 0;

    private static TrainerState ReadState(string checkpoint) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, TrainingCheckpoint.StateFile)))
            ?? throw new InvalidDataException($"{checkpoint}: empty {TrainingCheckpoint.StateFile}");
}
