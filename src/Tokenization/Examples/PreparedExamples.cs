namespace LoraService.Tokenization.Examples;

/// <summary>Tokenized rows and what was lost on the way.</summary>
/// <param name="Rows">Rows read from the file.</param>
/// <param name="Truncated">Supervised rows longer than the maximum length, cut on the right.</param>
/// <param name="Dropped">Supervised rows left with no scored token (dropped).</param>
public sealed record PreparedExamples(IReadOnlyList<TokenizedExample> Examples, int Rows, int Truncated, int Dropped);
