namespace LoraService.Datasets;

/// <summary>One problem in an uploaded file. <see cref="Line"/> is 1-based; 0 means the whole file.</summary>
public sealed record DatasetError(long Line, string Message)
{
    public override string ToString() => Line > 0 ? $"line {Line}: {Message}" : Message;
}

/// <param name="Format">The detected or expected format; null when no row could be classified.</param>
/// <param name="RowCount">Non-blank lines seen (valid or not).</param>
/// <param name="Sha256">Lower-case hex SHA-256 of every byte read.</param>
/// <param name="Preview">The first valid rows, as their JSON text.</param>
/// <param name="Errors">The first <see cref="DatasetValidationOptions.MaxErrors"/> errors.</param>
/// <param name="TotalErrorCount">All errors, including those not kept.</param>
public sealed record DatasetValidationResult(
    DatasetFormat? Format,
    long RowCount,
    long ByteCount,
    string Sha256,
    IReadOnlyList<string> Preview,
    IReadOnlyList<DatasetError> Errors,
    long TotalErrorCount)
{
    public bool IsValid => TotalErrorCount == 0;
}
