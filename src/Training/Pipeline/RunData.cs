using LoraService.Datasets;
using LoraService.Tokenization;
using LoraService.Tokenization.Examples;

namespace LoraService.Training.Pipeline;

/// <summary><see cref="ExamplePreparation"/> as the engine runs it: every row read or built beats <see cref="RunPulse"/>.</summary>
public static class RunData
{
    /// <inheritdoc cref="ExamplePreparation.ReadRows"/>
    public static List<DatasetExample> ReadRows(string path, DatasetFormat format, int limit = 0, CancellationToken cancellationToken = default) =>
        ExamplePreparation.ReadRows(path, format, limit, RunPulse.Beat, cancellationToken);

    /// <inheritdoc cref="ExamplePreparation.Build"/>
    public static PreparedExamples Build(IReadOnlyList<DatasetExample> rows, ITokenizer tokenizer, ChatTemplate? template,
        int maxSequenceLength, bool trainOnInputs, CancellationToken cancellationToken = default) =>
        ExamplePreparation.Build(rows, tokenizer, template, maxSequenceLength, trainOnInputs, RunPulse.Beat, cancellationToken);
}
