namespace LoraService.Tokenization.Examples;

/// <summary>
/// Token ids and their labels, position for position (not shifted: the loss shifts).
/// <see cref="IgnoreIndex"/> marks tokens that are not scored.
/// </summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels)
{
    public const int IgnoreIndex = -100;

    public int Length => InputIds.Length;
}
