using System.Text.Json;
using LoraService.Training.Loop;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>The newest checkpoint in the work directory and its step: where this sitting continues from (both null: a fresh start).</summary>
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

    private static TrainerState ReadState(string checkpoint) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, TrainingCheckpoint.StateFile)))
            ?? throw new InvalidDataException($"{checkpoint}: empty {TrainingCheckpoint.StateFile}");
}
