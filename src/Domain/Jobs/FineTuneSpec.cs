using System.Text.Json.Serialization;

namespace LoraService.Domain.Jobs;

/// <summary>What a user asks for. Stored as jsonb on the job row; the worker reads it by job id.</summary>
public sealed record FineTuneSpec
{
    public required string BaseModel { get; init; }
    public FineTuneMethod Method { get; init; } = FineTuneMethod.Lora;
    public required Guid TrainingDataset { get; init; }
    public Guid? ValidationDataset { get; init; }
    public LoraSettings? Lora { get; init; }
    public Hyperparameters Hyperparameters { get; init; } = new();
    public EvaluationSettings Evaluation { get; init; } = new();
    /// <summary>Optimizer steps between checkpoints; 0 keeps only the final state.</summary>
    public int CheckpointEvery { get; init; } = 50;
    /// <summary>
    /// Attempts that may end abnormally (worker lost, crash, out of memory, hang) before the job fails; each one resumes
    /// from the last checkpoint. Stored with the job, so every host that ends an attempt applies the same limit.
    /// </summary>
    public int? MaxAttempts { get; init; }

    public const int DefaultMaxAttempts = 3;

    [JsonIgnore]
    public int ResolvedMaxAttempts => MaxAttempts ?? DefaultMaxAttempts;
}

public enum FineTuneMethod
{
    Lora,
    Full,
}

/// <summary>Defaults follow the paper: alpha = 2r, all seven projections, dropout 0.05.</summary>
public sealed record LoraSettings
{
    public int Rank { get; init; } = 16;
    public double? Alpha { get; init; }
    public double Dropout { get; init; } = 0.05;
    public IReadOnlyList<string> TargetModules { get; init; } =
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    /// <summary>rsLoRA: scale alpha/√r instead of alpha/r (PEFT's <c>use_rslora</c>).</summary>
    [JsonPropertyName("use_rslora")]
    public bool UseRsLora { get; init; }
    /// <summary>LoRA+: learning-rate multiplier for B; null or 1 disables it.</summary>
    public double? LoraPlusRatio { get; init; }

    [JsonIgnore]
    public double ResolvedAlpha => Alpha ?? 2.0 * Rank;
}

public sealed record Hyperparameters
{
    public double LearningRate { get; init; } = 2e-4;
    public int Epochs { get; init; } = 1;
    public int? MaxSteps { get; init; }
    public int BatchSize { get; init; } = 8;
    public int MicroBatchSize { get; init; } = 8;
    public int MaxSequenceLength { get; init; } = 256;
    public double WeightDecay { get; init; }
    public string Schedule { get; init; } = "cosine";
    public double WarmupRatio { get; init; } = 0.1;
    public int? WarmupSteps { get; init; }
    public double MinLearningRateRatio { get; init; }
    public double GradientClip { get; init; } = 1.0;
    public bool TrainOnInputs { get; init; }
    public bool FreezeEmbeddings { get; init; }
    public string? ChatTemplate { get; init; }
    public int Seed { get; init; } = 42;
}

public sealed record EvaluationSettings
{
    /// <summary>Target-domain sets: what the job should learn.</summary>
    public IReadOnlyList<Guid> Target { get; init; } = [];
    /// <summary>Source-domain sets: what the base model knew and the job may forget.</summary>
    public IReadOnlyList<Guid> Source { get; init; } = [];
    public int EveryNSteps { get; init; } = 50;
    public int MaxExamples { get; init; } = 200;
    /// <summary>Greedy generation budget for exact-match sets.</summary>
    public int MaxNewTokens { get; init; } = 256;
}
