namespace LoraService.Contracts;

/// <summary>Files of a run that the service reads as well as the engine writes.</summary>
public static class RunFiles
{
    /// <summary>In the work folder: the base model's weights digest recorded at the run's first start.</summary>
    public const string Provenance = "provenance.json";
    /// <summary>In the output folder: baseline vs final, spectral means and provenance.</summary>
    public const string Summary = "summary.json";
    /// <summary>In the output folder: a full fine-tune's model, a LoRA job's PEFT adapter and (export_merged) its merged model.</summary>
    public const string ModelFolder = "model";
    public const string AdapterFolder = "adapter";
    public const string MergedFolder = "merged";
}
