using LoraService.Contracts;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;

namespace LoraService.Domain.Models;

/// <summary>What a succeeded job's outputs hold to promote: a full checkpoint to copy, an adapter to merge, or nothing.</summary>
public sealed record PromotionSource(PromotionSourceKind Kind, string? Folder)
{
    public static PromotionSource For(FineTuneJob job, IArtifactStore store)
    {
        var output = JobStorageKeys.Output(job.Id);
        string Folder(string name) => store.PathFor($"{output}/{name}");
        bool IsCheckpoint(string folder) => File.Exists(Path.Combine(folder, "config.json"));
        if (job.Spec.Method == FineTuneMethod.Full)
            return IsCheckpoint(Folder(RunFiles.ModelFolder)) ? new(PromotionSourceKind.Checkpoint, Folder(RunFiles.ModelFolder)) : new(PromotionSourceKind.None, null);
        if (IsCheckpoint(Folder(RunFiles.MergedFolder))) return new(PromotionSourceKind.Checkpoint, Folder(RunFiles.MergedFolder));
        return File.Exists(Path.Combine(Folder(RunFiles.AdapterFolder), "adapter_config.json"))
            ? new(PromotionSourceKind.Adapter, Folder(RunFiles.AdapterFolder))
            : new(PromotionSourceKind.None, null);
    }
}

public enum PromotionSourceKind
{
    None,
    /// <summary>A Hugging Face checkpoint (a full fine-tune's model, a LoRA job's merged model): copied as it is.</summary>
    Checkpoint,
    /// <summary>A LoRA job without a merged export: a worker merges the adapter into the base model.</summary>
    Adapter,
}
