namespace LoraService.Tokenization.Planning;

/// <summary>How many optimizer steps training runs: the trainer runs exactly this many, and a dry run predicts it with the same rule.</summary>
public static class TrainingSteps
{
    /// <summary>Micro-batches in one pass over the examples; the last one may be short.</summary>
    public static int MicroBatchesPerEpoch(int examples, int microBatchSize) =>
        (int)Math.Ceiling((double)examples / microBatchSize);

    /// <summary>
    /// <paramref name="maxSteps"/> when set (epochs cycle as needed); otherwise every epoch's micro-batches,
    /// <paramref name="gradientAccumulationSteps"/> per step, the last step taking what is left.
    /// </summary>
    public static int Total(int examples, int microBatchSize, int gradientAccumulationSteps, int epochs, int? maxSteps) =>
        maxSteps ?? (int)Math.Ceiling((double)MicroBatchesPerEpoch(examples, microBatchSize) * epochs / gradientAccumulationSteps);
}
