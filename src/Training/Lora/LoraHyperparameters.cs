namespace LoraService.Training.Lora;

/// <summary>One adapter's hyperparameters; <see cref="Scale"/> is alpha/r, or alpha/√r with rsLoRA.</summary>
public sealed record LoraHyperparameters(int Rank, double Alpha, double Dropout = 0.0, bool UseRsLora = false)
{
    public double Scale => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;
}
