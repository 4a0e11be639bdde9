using System.Text.Json;
using LoraService.Contracts.Jobs;

namespace LoraService.Api.OpenAi;

/// <summary>The body of <c>POST /v1/fine_tuning/jobs</c> as OpenAI defines it, plus <see cref="LoraService"/>.</summary>
public sealed record OpenAiJobRequest
{
    /// <summary>A base model name from GET /api/v1/models.</summary>
    public string? Model { get; init; }
    /// <summary>A file id from POST /v1/files (a dataset id works too).</summary>
    public string? TrainingFile { get; init; }
    public string? ValidationFile { get; init; }
    /// <summary>Up to 64 characters, part of fine_tuned_model; stored as the job's name.</summary>
    public string? Suffix { get; init; }
    public int? Seed { get; init; }
    /// <summary>Deprecated by OpenAI in favour of method.supervised.hyperparameters; still accepted.</summary>
    public OpenAiHyperparameters? Hyperparameters { get; init; }
    public OpenAiMethod? Method { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    /// <summary>Not supported: must be absent, null or empty.</summary>
    public JsonElement? Integrations { get; init; }
    /// <summary>This service's extension: LoRA settings, evaluation sets and any native job setting (see README).</summary>
    public LoraServiceJobOptions? LoraService { get; init; }
}

/// <summary>Each value is <c>"auto"</c> (the documented default) or a number.</summary>
public sealed record OpenAiHyperparameters
{
    /// <summary>"auto" = 1 epoch.</summary>
    public JsonElement? NEpochs { get; init; }
    /// <summary>"auto" = 8.</summary>
    public JsonElement? BatchSize { get; init; }
    /// <summary>× the method's default learning rate (LoRA 2e-4, full 2e-5); "auto" = 1.</summary>
    public JsonElement? LearningRateMultiplier { get; init; }
}

public sealed record OpenAiMethod
{
    /// <summary>Only "supervised".</summary>
    public string? Type { get; init; }
    public OpenAiSupervised? Supervised { get; init; }
    public JsonElement? Dpo { get; init; }
    public JsonElement? Reinforcement { get; init; }
}

public sealed record OpenAiSupervised
{
    public OpenAiHyperparameters? Hyperparameters { get; init; }
}

/// <summary>
/// <c>lora_service</c> on create: the native job spec's settings OpenAI's request has no place for. Omitted ones take
/// the native defaults; OpenAI's own fields (n_epochs, batch_size, learning_rate_multiplier, seed, suffix) win over
/// the same settings given here. File references may be <c>file-…</c> ids or dataset ids.
/// </summary>
public sealed record LoraServiceJobOptions
{
    /// <summary>lora (default) or full.</summary>
    public FineTuneMethod? Method { get; init; }
    public LoraSettings? Lora { get; init; }
    public EvaluationSettings? Evaluation { get; init; }
    /// <summary>The native hyperparameters (max_steps, micro_batch_size, max_sequence_length, schedule, ...).</summary>
    public Hyperparameters? Hyperparameters { get; init; }
    public int? CheckpointEvery { get; init; }
    public int? KeepCheckpoints { get; init; }
    public bool? ExportMerged { get; init; }
    public int? MaxAttempts { get; init; }
    public TimeSpan? MaxWallTime { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
}
