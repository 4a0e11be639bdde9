namespace LoraService.Domain.Jobs;

/// <summary>Where a job's files live in the artifact store: its work folder (checkpoints, journal) and its output folder.</summary>
public static class JobStorageKeys
{
    public static string Work(Guid jobId) => $"jobs/{jobId:N}/work";
    public static string Output(Guid jobId) => $"jobs/{jobId:N}/output";
    /// <summary>The checkpoint folders (<c>checkpoint-NNNNNNNN</c>) inside the work folder.</summary>
    public static string Checkpoints(Guid jobId) => $"{Work(jobId)}/checkpoints";
    /// <summary>The folder holding the work and output folders.</summary>
    public static string Root(Guid jobId) => $"jobs/{jobId:N}";
}
