namespace LoraService.Training.Loop;

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
