using static TorchSharp.torch;

namespace LoraService.Training.Data;

/// <summary>
/// Right-padded <c>[B, T]</c> int64 input ids and labels (labels −100 on padding).
/// <see cref="ScoredTokens"/> counts the labels the causal-LM loss will score (after the shift).
/// </summary>
public sealed record MicroBatch(Tensor InputIds, Tensor Labels, int ScoredTokens, int RealTokens) : IDisposable
{
    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
    }
}
