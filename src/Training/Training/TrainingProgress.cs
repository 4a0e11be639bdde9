namespace LoraService.Training.Training;

/// <summary>Reported after every optimizer step. <see cref="Step"/> is 1-based (steps completed).</summary>
/// <param name="Epoch">Fractional epochs consumed so far.</param>
/// <param name="Loss">Mean token cross-entropy over the scored tokens of the whole accumulated batch.</param>
/// <param name="GradNorm">Total L2 norm of the gradients before clipping.</param>
/// <param name="TokensPerSecond">Non-padding tokens of this step divided by its wall time.</param>
public sealed record TrainingProgress(
    int Step,
    int TotalSteps,
    double Epoch,
    double Loss,
    double LearningRate,
    double GradNorm,
    double TokensPerSecond,
    long TokensSeen,
    TimeSpan Elapsed,
    TimeSpan Eta);

/// <summary>Metrics the caller's evaluation hook returned at a step.</summary>
public sealed record EvaluationPoint(int Step, IReadOnlyDictionary<string, double> Metrics);

/// <param name="OnStep">Called after each optimizer step.</param>
/// <param name="Evaluate">Called every <see cref="TrainerOptions.EvalEvery"/> steps and at the end, with the
/// model in eval mode under no_grad; returns named metrics.</param>
/// <param name="OnCheckpoint">Called with the directory of each checkpoint once it is complete on disk.</param>
public sealed record TrainerCallbacks(
    Action<TrainingProgress>? OnStep = null,
    Func<int, IReadOnlyDictionary<string, double>>? Evaluate = null,
    Action<int, string>? OnCheckpoint = null);

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
