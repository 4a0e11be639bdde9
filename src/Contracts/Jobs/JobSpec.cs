using System.Text.Json.Serialization;

namespace LoraService.Contracts.Jobs;

/// <summary>
/// A fine-tuning job as a user writes it: the body of <c>POST /api/v1/jobs</c> and the file <c>LoraService.Cli train</c>
/// reads. Omitted settings take <see cref="JobDefaults"/>; those that depend on the method or the model (learning rate,
/// LoRA alpha and targets, export_merged, max_attempts) are filled in by <see cref="JobSpecResolver"/> at job creation,
/// and the service stores the resolved spec, so a job says exactly what ran.
/// </summary>
public sealed record JobSpec
{
    /// <summary>Service: a model name from <c>GET /api/v1/models</c>. CLI: a Hugging Face checkpoint folder.</summary>
    public string? BaseModel { get; init; }
    public FineTuneMethod Method { get; init; } = FineTuneMethod.Lora;
    /// <summary>Service: a dataset id. CLI: a JSONL file. Format text, prompt_completion or messages.</summary>
    public string? TrainingDataset { get; init; }
    /// <summary>Held-out data of a training format; its loss and perplexity are reported at each evaluation.</summary>
    public string? ValidationDataset { get; init; }
    /// <summary>Method lora only; omitted = <see cref="LoraSettings"/>' defaults.</summary>
    public LoraSettings? Lora { get; init; }
    public Hyperparameters Hyperparameters { get; init; } = new();
    public EvaluationSettings Evaluation { get; init; } = new();
    /// <summary>Optimizer steps between resumable checkpoints; 0 = only when stopped.</summary>
    public int CheckpointEvery { get; init; } = JobDefaults.CheckpointEvery;
    /// <summary>How many of the newest checkpoints a running job keeps; 0 = all.</summary>
    public int KeepCheckpoints { get; init; } = JobDefaults.KeepCheckpoints;
    /// <summary>LoRA: also write the merged model. Null = true below <see cref="JobDefaults.ExportMergedBelowParameters"/>.</summary>
    public bool? ExportMerged { get; init; }
    /// <summary>Attempts that may end abnormally (worker lost, crash, out of memory, hang) before the job fails; each
    /// resumes from the last checkpoint. Null = the service's default (<c>Jobs__MaxAttempts</c>, 3).</summary>
    public int? MaxAttempts { get; init; }
    /// <summary>Running time allowed for the job, summed over its attempts ("hh:mm:ss"); past it the job stops at a
    /// checkpoint and fails with <c>max_wall_time</c>. Null = no limit.</summary>
    public TimeSpan? MaxWallTime { get; init; }
    /// <summary>How much forgetting the job may cause, and what to do about it; needs source sets and periodic evaluation.
    /// It makes the job checkpoint at every evaluation step.</summary>
    public ForgettingBudget? ForgettingBudget { get; init; }
    public string? Name { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Up to 16 string pairs the service stores and returns as they are (keys ≤ 64, values ≤ 512 characters).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Every dataset reference with the role it plays, in spec order.</summary>
    public IEnumerable<(string Field, string Reference, DatasetUse Use)> DatasetReferences()
    {
        if (TrainingDataset is { } training) yield return ("training_dataset", training, DatasetUse.Training);
        if (ValidationDataset is { } validation) yield return ("validation_dataset", validation, DatasetUse.Validation);
        for (var i = 0; i < (Evaluation?.Target?.Count ?? 0); i++) yield return ($"evaluation.target[{i}]", Evaluation!.Target[i], DatasetUse.Target);
        for (var i = 0; i < (Evaluation?.Source?.Count ?? 0); i++) yield return ($"evaluation.source[{i}]", Evaluation!.Source[i], DatasetUse.Source);
    }
}

public enum FineTuneMethod { Lora, Full }

/// <summary>stop: end the job when forgetting first exceeds the budget and export the last evaluated checkpoint within
/// it; select: train on and export the evaluated checkpoint with the most learning within the budget.</summary>
public enum BudgetAction { Stop, Select }

/// <summary>
/// A limit on forgetting as the summary defines it: the mean degradation of <see cref="Metric"/> over the source sets
/// against step 0 (absolute change; positive = forgot).
/// </summary>
public sealed record ForgettingBudget
{
    /// <summary>A metric the source sets produce: loss, perplexity, token_accuracy (text formats), acc, acc_norm
    /// (multiple_choice), exact_match.</summary>
    public string Metric { get; init; } = "loss";
    public double Max { get; init; }
    public BudgetAction Action { get; init; } = BudgetAction.Stop;
}

public enum ScheduleKind { Constant, Linear, Cosine }

public enum DatasetUse { Training, Validation, Target, Source }

/// <summary>PEFT's LoraConfig, with the paper's defaults.</summary>
public sealed record LoraSettings
{
    public int Rank { get; init; } = JobDefaults.LoraRank;
    /// <summary>Null = 2 × rank.</summary>
    public double? Alpha { get; init; }
    public double Dropout { get; init; } = JobDefaults.LoraDropout;
    /// <summary>Module names of this architecture; null or <c>["all-linear"]</c> = every linear projection but the head
    /// (Llama: q, k, v, o, gate, up, down; GPT-2: c_attn, c_proj, c_fc).</summary>
    public IReadOnlyList<string>? TargetModules { get; init; }
    /// <summary>rsLoRA: scale alpha/√r instead of alpha/r (PEFT's <c>use_rslora</c>).</summary>
    [JsonPropertyName("use_rslora")]
    public bool UseRsLora { get; init; }
    /// <summary>LoRA+: B trains at learning_rate × ratio; null or 1 = off.</summary>
    public double? LoraPlusRatio { get; init; }

    public const string AllLinear = "all-linear";
}

public sealed record Hyperparameters
{
    /// <summary>Null = 2e-4 for LoRA, 2e-5 for full fine-tuning (LoRA wants about ten times the rate).</summary>
    public double? LearningRate { get; init; }
    /// <summary>Passes over the data; ignored when <see cref="MaxSteps"/> is set.</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Optimizer steps to run, cycling epochs as needed.</summary>
    public int? MaxSteps { get; init; }
    /// <summary>Examples per optimizer step; gradient accumulation = batch_size / micro_batch_size.</summary>
    public int BatchSize { get; init; } = 8;
    public int MicroBatchSize { get; init; } = 8;
    /// <summary>Block length for packed text; longer supervised rows are cut on the right. Null = 256, or the model's
    /// context when that is shorter.</summary>
    public int? MaxSequenceLength { get; init; }
    public double WeightDecay { get; init; }
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;
    public double WarmupRatio { get; init; } = 0.1;
    /// <summary>Wins over <see cref="WarmupRatio"/> when set.</summary>
    public int? WarmupSteps { get; init; }
    public double MinLearningRateRatio { get; init; }
    /// <summary>Total gradient-norm clip; 0 = no clipping.</summary>
    public double GradientClip { get; init; } = 1.0;
    public bool TrainOnInputs { get; init; }
    public bool FreezeEmbeddings { get; init; }
    /// <summary>Recompute each decoder layer's activations in backward instead of keeping them: less memory for long
    /// sequences and big models, about one more forward pass of time. Gradients are unchanged.</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>chatml | llama3 | plain; null = the one recognised in the model's tokenizer_config.json.</summary>
    public string? ChatTemplate { get; init; }
    public int Seed { get; init; } = 42;

    [JsonIgnore]
    public int GradientAccumulationSteps => Math.Max(1, BatchSize / Math.Max(1, MicroBatchSize));
}

public sealed record EvaluationSettings
{
    /// <summary>Target-domain sets: what the job should learn.</summary>
    public IReadOnlyList<string> Target { get; init; } = [];
    /// <summary>Source-domain sets: what the base model knew and the job may forget.</summary>
    public IReadOnlyList<string> Source { get; init; } = [];
    /// <summary>Evaluate every N optimizer steps; 0 = only at step 0 (the base model) and at the end.</summary>
    public int EveryNSteps { get; init; } = 50;
    /// <summary>Each set (and the validation set) is cut to its first N rows.</summary>
    public int MaxExamples { get; init; } = 200;
    /// <summary>Greedy generation budget for exact-match sets.</summary>
    public int MaxNewTokens { get; init; } = 256;
    /// <summary>Most prompts (generation) or sequences (scoring) evaluated together in one batch.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Memory bound of one evaluation batch: rows × padded length (for generation: prompt + max_new_tokens).</summary>
    public int BatchTokens { get; init; } = 4096;
    /// <summary>Examples recorded per exact-match and multiple-choice set at every evaluation (prompt, output, expected).</summary>
    public int Samples { get; init; } = 3;
}
