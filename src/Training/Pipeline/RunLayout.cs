namespace LoraService.Training.Pipeline;

/// <summary>
/// Names in a run's folders. Work directory: <c>checkpoints/checkpoint-NNNNNNNN/</c>, <c>metrics.jsonl</c> (the journal)
/// and <c>provenance.json</c> (the base model's weights digest at the first start). Output directory: LoRA →
/// <c>adapter/</c> (PEFT) and, with export_merged, <c>merged/</c> (HF checkpoint); full → <c>model/</c>; always
/// <c>spectral.json</c>, <c>metrics.jsonl</c>, <c>summary.json</c>.
/// </summary>
public static class RunLayout
{
    public const string CheckpointsFolder = "checkpoints";
    public const string ProvenanceFile = Contracts.RunFiles.Provenance;
    public const string SpectralFile = "spectral.json";
    public const string MetricsFile = "metrics.jsonl";
    public const string SummaryFile = Contracts.RunFiles.Summary;
    public const string AdapterFolder = Contracts.RunFiles.AdapterFolder;
    public const string MergedFolder = Contracts.RunFiles.MergedFolder;
    public const string ModelFolder = Contracts.RunFiles.ModelFolder;
}
