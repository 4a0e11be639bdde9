namespace LoraService.Training.Pipeline;

/// <summary>
/// The run ended for a reason of the job's own that trying again cannot change; <see cref="Code"/> is the job's error
/// code (a worker fails the job with it at once instead of counting a crash).
/// </summary>
public abstract class RunRefusedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
