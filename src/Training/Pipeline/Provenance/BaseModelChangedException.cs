namespace LoraService.Training.Pipeline.Provenance;

/// <summary>
/// A resume refused: the base model's weights are not those the run's checkpoints were trained on. Deterministic —
/// trying again cannot help; the job has to start over (a new work directory) or get its original weights back.
/// </summary>
public sealed class BaseModelChangedException(string message) : RunRefusedException(ErrorCode, message)
{
    public const string ErrorCode = "base_model_changed";
}
