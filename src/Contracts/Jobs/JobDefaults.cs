namespace LoraService.Contracts.Jobs;

/// <summary>The defaults of a job that are not plain property initialisers: those that depend on the method or the model.</summary>
public static class JobDefaults
{
    public const int LoraRank = 16;
    public const double LoraDropout = 0.05;
    public const double LoraLearningRate = 2e-4;
    public const double FullLearningRate = 2e-5;
    public const int MaxSequenceLength = 256;
    public const int CheckpointEvery = 50;
    public const int KeepCheckpoints = 2;
    public const int MaxAttempts = 3;
    /// <summary>A merged copy of a model this large or larger is not written unless asked for (it costs a full model of disk).</summary>
    public const long ExportMergedBelowParameters = 2_000_000_000;

    public static double LoraAlpha(int rank) => 2.0 * rank;

    public static double LearningRate(FineTuneMethod method) => method == FineTuneMethod.Lora ? LoraLearningRate : FullLearningRate;
}
