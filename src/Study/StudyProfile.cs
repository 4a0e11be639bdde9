namespace LoraService.Study;

/// <summary>Every knob of one study run, fixed up front (seeds included): the same profile gives the same corpora and specs.</summary>
sealed record StudyProfile(
    string Name,
    int People, int SourceRows, int TargetRows, int EvalRows, int Seed,
    int Hidden, int Layers, int Heads, int Positions,
    int PretrainSteps, double PretrainLearningRate, int PretrainBatch, int PretrainSequenceLength,
    int Steps, int Batch, int SequenceLength, int EvalEvery, int MaxExamples, int MaxNewTokens,
    IReadOnlyList<int> Ranks, IReadOnlyList<double> FullLearningRates, IReadOnlyList<double> LoraLearningRates)
{
    /// <summary>About 30 minutes on a 2-core CPU: the paper's ranks, two learning rates per method (LoRA's 10× full's).</summary>
    public static readonly StudyProfile Full = new("full",
        People: 16, SourceRows: 3000, TargetRows: 2000, EvalRows: 32, Seed: 20240515,
        Hidden: 64, Layers: 2, Heads: 4, Positions: 128,
        PretrainSteps: 600, PretrainLearningRate: 3e-3, PretrainBatch: 16, PretrainSequenceLength: 48,
        Steps: 120, Batch: 8, SequenceLength: 96, EvalEvery: 40, MaxExamples: 32, MaxNewTokens: 20,
        Ranks: [1, 4, 16, 64], FullLearningRates: [3e-4, 1e-3], LoraLearningRates: [3e-3, 1e-2]);

    /// <summary>Under 5 minutes: a smaller world, fewer steps, full fine-tuning and LoRA r=1 and r=16 at one learning rate each.</summary>
    public static readonly StudyProfile Quick = new("quick",
        People: 8, SourceRows: 1500, TargetRows: 800, EvalRows: 16, Seed: 20240515,
        Hidden: 64, Layers: 2, Heads: 4, Positions: 128,
        PretrainSteps: 250, PretrainLearningRate: 3e-3, PretrainBatch: 16, PretrainSequenceLength: 48,
        Steps: 60, Batch: 8, SequenceLength: 96, EvalEvery: 30, MaxExamples: 16, MaxNewTokens: 20,
        Ranks: [1, 16], FullLearningRates: [1e-3], LoraLearningRates: [1e-2]);
}

/// <summary>One cell of the grid: full fine-tuning (rank null) or LoRA at a rank, at a learning rate.</summary>
sealed record GridPoint(string Method, int? Rank, double LearningRate)
{
    public string Label => Rank is { } r ? $"LoRA r={r}" : "full";
}
