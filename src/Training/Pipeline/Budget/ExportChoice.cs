namespace LoraService.Training.Pipeline.Budget;

/// <summary>Which step's weights were exported, when it is not the last one trained, and why (summary.json's <c>export</c>).</summary>
public sealed record ExportChoice(int Step, string Reason);
