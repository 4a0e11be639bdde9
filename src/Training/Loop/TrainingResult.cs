namespace LoraService.Training.Loop;

public enum TrainingOutcome { Completed, Cancelled }

/// <param name="StepsCompleted">Optimizer steps done, counting those before a resume.</param>
/// <param name="History">Progress of the steps run in this call.</param>
public sealed record TrainingResult(
    TrainingOutcome Outcome,
    int StepsCompleted,
    int TotalSteps,
    IReadOnlyList<TrainingProgress> History,
    IReadOnlyList<EvaluationPoint> Evaluations,
    string? LastCheckpoint);
