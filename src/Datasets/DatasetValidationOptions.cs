namespace LoraService.Datasets;

/// <param name="ExpectedFormat">Check every row against this format; null detects it from the first JSON object.</param>
/// <param name="MaxLineBytes">Longest accepted line, in bytes, without its line break.</param>
/// <param name="MaxErrors">How many errors are kept; all are counted.</param>
/// <param name="PreviewRows">How many valid rows are returned as a preview.</param>
public sealed record DatasetValidationOptions(
    DatasetFormat? ExpectedFormat = null,
    int MaxLineBytes = 1 << 20,
    int MaxErrors = 20,
    int PreviewRows = 3);
