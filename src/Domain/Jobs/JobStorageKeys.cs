namespace LoraService.Domain.Jobs;

/// <summary>Where a job's files live in the artifact store: its work folder (checkpoints, journal) and its output folder.</summary>
public static class JobStorageKeys
{
    public static string Work(Guid jobId) => $"jobs/{jobId:N}/work";
    public static string Output(Guid jobId) => $"jobs/{jobId:N}/output";
}
