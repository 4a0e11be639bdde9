namespace LoraService.Training.Lora;

/// <summary>
/// What to adapt and how: PEFT's <c>r</c>, <c>lora_alpha</c>, <c>lora_dropout</c>, <c>target_modules</c>
/// (projection names, or <c>"all-linear"</c>) and <c>use_rslora</c>.
/// </summary>
public sealed record LoraConfig(int Rank, double Alpha, IReadOnlyList<string> TargetModules, double Dropout = 0.0, bool UseRsLora = false)
{
    public const string AllLinear = "all-linear";

    public LoraHyperparameters Hyperparameters => new(Rank, Alpha, Dropout, UseRsLora);
}
