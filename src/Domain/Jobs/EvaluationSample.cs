namespace LoraService.Domain.Jobs;

/// <summary>
/// One example of what the model did at one evaluation of one set: the prompt, its output and the expected answer (for a
/// multiple-choice set: the context, the choice ranked first and the labelled one). (job, step, role, dataset, index) is
/// unique, so an evaluation repeated after a resume overwrites its samples.
/// </summary>
public sealed class EvaluationSample
{
    public long Id { get; init; }
    public Guid JobId { get; init; }
    public int Step { get; init; }
    /// <summary>target or source.</summary>
    public required string Role { get; init; }
    public Guid DatasetId { get; init; }
    /// <summary>The set's name when it was evaluated (the dataset may be renamed or deleted later).</summary>
    public required string DatasetName { get; init; }
    /// <summary>0-based position among the set's samples (the set's first rows, in order).</summary>
    public int Index { get; init; }
    public required string Prompt { get; init; }
    public required string Output { get; init; }
    public required string Expected { get; init; }
    public bool Correct { get; init; }
    /// <summary>The attempt (fencing token) whose worker wrote the sample.</summary>
    public int Attempt { get; init; }
    public DateTimeOffset RecordedAt { get; init; } = DateTimeOffset.UtcNow;
}
