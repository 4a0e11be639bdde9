using LoraService.Contracts.Jobs;

namespace LoraService.Domain.Jobs;

/// <summary>
/// A succeeded job cannot resume, so its checkpoints only cost disk: they go (files and rows) when it succeeds, unless
/// its spec says <c>keep_checkpoints: 0</c> ("keep all"), which keeps every one. Failed and cancelled jobs keep theirs
/// (a retry resumes from them).
/// </summary>
public static class CheckpointRetention
{
    public static bool PrunesOnSuccess(JobSpec spec) => spec.KeepCheckpoints != 0;
}
