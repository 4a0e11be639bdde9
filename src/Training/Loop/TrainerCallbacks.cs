namespace LoraService.Training.Loop;

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
