namespace LoraService.Contracts.Jobs;

/// <summary>
/// What a sweep fills in when its grid does not say: the learning rates of <i>LoRA Learns Less and Forgets Less</i>
/// (Biderman et al., 2024). LoRA's best rates sit about ten times above full fine-tuning's, so each method gets its own
/// small grid around <see cref="JobDefaults.LearningRate"/>. α = 2r and every linear projection are the resolver's defaults.
/// </summary>
public static class SweepDefaults
{
    public static readonly IReadOnlyList<double> FullLearningRates = [1e-5, 2e-5, 5e-5];
    public static readonly IReadOnlyList<double> LoraLearningRates = [1e-4, 2e-4, 5e-4];
    /// <summary>Children one sweep may expand to (Sweeps:MaxChildren).</summary>
    public const int MaxChildren = 64;

    public static IReadOnlyList<double> LearningRates(FineTuneMethod method) =>
        method == FineTuneMethod.Full ? FullLearningRates : LoraLearningRates;
}
