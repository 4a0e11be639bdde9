using System.Text.Json;
using System.Text.Json.Serialization;
using LoraService.Datasets;
using LoraService.Training.Training;

namespace LoraService.Training.Pipeline;

public enum FineTuneMethod { Lora, Full }

/// <summary>What an eval set measures: <c>target</c> = learning, <c>source</c> = forgetting.</summary>
public enum EvalRole { Target, Source }

public enum DevicePreference { Auto, Cpu, Cuda }

/// <summary>
/// One fine-tuning run, everything <see cref="FineTuneRun.Execute"/> needs. Serialises with
/// <see cref="JsonOptions"/>: snake_case property names and snake_case enum strings
/// (<c>"method": "lora"</c>, <c>"format": "prompt_completion"</c>, <c>"schedule": "cosine"</c>).
/// </summary>
/// <remarks>Resuming: if <see cref="WorkDirectory"/> already holds a checkpoint, the run continues from the latest one.</remarks>
public sealed record FineTuneRunSpec
{
    /// <summary>A Hugging Face checkpoint directory (config.json, safetensors, tokenizer.json).</summary>
    public required string ModelDirectory { get; init; }
    /// <summary>Written as <c>base_model_name_or_path</c> of the adapter; null = <see cref="ModelDirectory"/>.</summary>
    public string? BaseModelName { get; init; }
    public FineTuneMethod Method { get; init; } = FineTuneMethod.Lora;
    /// <summary>LoRA settings; null = defaults. Ignored for full fine-tuning.</summary>
    public LoraSpec? Lora { get; init; }
    public HyperparameterSpec Hyperparameters { get; init; } = new();
    public required DatasetRef TrainingDataset { get; init; }
    /// <summary>Held-out data in a training format; reported as role <c>validation</c> (loss, perplexity).</summary>
    public DatasetRef? ValidationDataset { get; init; }
    public IReadOnlyList<EvalSetSpec> EvalSets { get; init; } = [];
    /// <summary>Evaluate every N optimizer steps; 0 = only at step 0 (the base model) and at the end.</summary>
    public int EvalEvery { get; init; }
    /// <summary>Each eval set (and the validation set) is cut to its first N rows; 0 = all.</summary>
    public int MaxEvalExamples { get; init; } = 200;
    /// <summary>Checkpoint every N optimizer steps (0 = only when cancelled).</summary>
    public int CheckpointEvery { get; init; } = 50;
    /// <summary>Newest checkpoints kept in the work directory (0 = all).</summary>
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Checkpoints and the run's metric journal; a checkpoint here means "resume".</summary>
    public required string WorkDirectory { get; init; }
    /// <summary>Final artifacts, written only when the run completes.</summary>
    public required string OutputDirectory { get; init; }
    public DevicePreference Device { get; init; } = DevicePreference.Auto;
    /// <summary>
    /// On resume, report the journal's metrics from this step on again (<see cref="IFineTuneObserver.OnReplay"/>), up to the
    /// checkpoint: a service passes the last step it stored, so points lost in flight when a worker died are restored.
    /// Null: no replay.
    /// </summary>
    public int? ReplayMetricsFromStep { get; init; }
    /// <summary>Also write the merged model for LoRA (<c>merged/</c>); null = true. Ignored for full fine-tuning.</summary>
    public bool? ExportMerged { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
    };

    public static FineTuneRunSpec FromJson(string json) =>
        JsonSerializer.Deserialize<FineTuneRunSpec>(json, JsonOptions) ?? throw new JsonException("the spec is null");

    public static FineTuneRunSpec Load(string path) => FromJson(File.ReadAllText(path));

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Problems with the spec itself (files are checked when the run opens them); empty when it is usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Hyperparameters is null || EvalSets is null)
            return ["hyperparameters and eval_sets must not be null"];
        var h = Hyperparameters;
        if (string.IsNullOrWhiteSpace(ModelDirectory)) errors.Add("model_directory is required");
        if (string.IsNullOrWhiteSpace(WorkDirectory)) errors.Add("work_directory is required");
        if (string.IsNullOrWhiteSpace(OutputDirectory)) errors.Add("output_directory is required");
        if (h.LearningRate <= 0) errors.Add("hyperparameters.learning_rate must be positive");
        if (h.Epochs <= 0) errors.Add("hyperparameters.epochs must be positive");
        if (h.MaxSteps is <= 0) errors.Add("hyperparameters.max_steps must be positive when set");
        if (h.MicroBatchSize <= 0) errors.Add("hyperparameters.micro_batch_size must be positive");
        if (h.BatchSize <= 0 || (h.MicroBatchSize > 0 && h.BatchSize % h.MicroBatchSize != 0))
            errors.Add("hyperparameters.batch_size must be a positive multiple of micro_batch_size");
        if (h.MaxSequenceLength < 2) errors.Add("hyperparameters.max_sequence_length must be at least 2");
        if (h.WeightDecay < 0) errors.Add("hyperparameters.weight_decay must not be negative");
        if (h.WarmupRatio is < 0 or > 1) errors.Add("hyperparameters.warmup_ratio must be in [0, 1]");
        if (h.WarmupSteps is < 0) errors.Add("hyperparameters.warmup_steps must not be negative");
        if (h.MinLearningRateRatio is < 0 or > 1) errors.Add("hyperparameters.min_learning_rate_ratio must be in [0, 1]");
        if (h.GradientClip < 0) errors.Add("hyperparameters.gradient_clip must not be negative");
        if (Method == FineTuneMethod.Lora && Lora is { } lora)
        {
            if (lora.Rank <= 0) errors.Add("lora.rank must be positive");
            if (lora.Alpha is <= 0) errors.Add("lora.alpha must be positive");
            if (lora.Dropout is < 0 or >= 1) errors.Add("lora.dropout must be in [0, 1)");
            if (lora.LoraPlusRatio is <= 0) errors.Add("lora.lora_plus_ratio must be positive");
            if (lora.TargetModules is { Count: 0 }) errors.Add("lora.target_modules must not be empty");
        }
        CheckDataset(TrainingDataset, "training_dataset", errors);
        if (TrainingDataset?.Format is DatasetFormat.MultipleChoice or DatasetFormat.ExactMatch)
            errors.Add("training_dataset.format must be text, prompt_completion or messages");
        if (ValidationDataset is { } validation)
        {
            CheckDataset(validation, "validation_dataset", errors);
            if (validation.Format is DatasetFormat.MultipleChoice or DatasetFormat.ExactMatch)
                errors.Add("validation_dataset.format must be text, prompt_completion or messages");
        }
        for (var i = 0; i < EvalSets.Count; i++)
        {
            var set = EvalSets[i];
            CheckDataset(new DatasetRef(set.Id, set.Path, set.Format), $"eval_sets[{i}]", errors);
            if (set.MaxNewTokens <= 0) errors.Add($"eval_sets[{i}].max_new_tokens must be positive");
        }
        if (EvalEvery < 0) errors.Add("eval_every must not be negative");
        if (MaxEvalExamples < 0) errors.Add("max_eval_examples must not be negative");
        if (CheckpointEvery < 0) errors.Add("checkpoint_every must not be negative");
        if (KeepCheckpoints < 0) errors.Add("keep_checkpoints must not be negative");
        return errors;
    }

    /// <summary>The spec with every missing dataset format detected from its file.</summary>
    public FineTuneRunSpec WithDetectedFormats() => this with
    {
        TrainingDataset = TrainingDataset with { Format = TrainingDataset.Format ?? RunData.DetectFormat(TrainingDataset.Path) },
        ValidationDataset = ValidationDataset is { } v ? v with { Format = v.Format ?? RunData.DetectFormat(v.Path) } : null,
        EvalSets = EvalSets.Select(e => e with { Format = e.Format ?? RunData.DetectFormat(e.Path) }).ToList(),
    };

    private static void CheckDataset(DatasetRef? dataset, string path, List<string> errors)
    {
        if (dataset is null) errors.Add($"{path} is required");
        else if (string.IsNullOrWhiteSpace(dataset.Path)) errors.Add($"{path}.path is required");
    }
}

/// <param name="Alpha">null = 2 × rank (the paper's setting).</param>
/// <param name="TargetModules">null = all seven Llama projections, or GPT-2's <c>c_attn, c_proj, c_fc</c> on a GPT-2
/// model (the Llama list written out in full counts as the default too); <c>["all-linear"]</c> = every projection but the head.</param>
/// <param name="LoraPlusRatio">LoRA+: B trains at learning_rate × ratio; null or 1 = off.</param>
public sealed record LoraSpec(
    int Rank = 16,
    double? Alpha = null,
    double Dropout = 0.05,
    IReadOnlyList<string>? TargetModules = null,
    [property: JsonPropertyName("use_rslora")] bool UseRsLora = false,
    double? LoraPlusRatio = null);

/// <param name="BatchSize">Examples per optimizer step; gradient accumulation = batch_size / micro_batch_size.</param>
/// <param name="MaxSteps">Optimizer steps to run (cycling epochs); null = <paramref name="Epochs"/> passes.</param>
/// <param name="MaxSequenceLength">Block length for packed text; longer supervised rows are cut on the right.</param>
/// <param name="WarmupSteps">Wins over <paramref name="WarmupRatio"/> when set.</param>
/// <param name="GradientClip">Total gradient-norm clip; 0 = no clipping.</param>
/// <param name="ChatTemplate">chatml | llama3 | plain; null = recognise it from tokenizer_config.json.</param>
public sealed record HyperparameterSpec(
    double LearningRate = 2e-4,
    int Epochs = 1,
    int? MaxSteps = null,
    int BatchSize = 8,
    int MicroBatchSize = 8,
    int MaxSequenceLength = 256,
    double WeightDecay = 0.0,
    ScheduleKind Schedule = ScheduleKind.Cosine,
    double WarmupRatio = 0.1,
    int? WarmupSteps = null,
    double MinLearningRateRatio = 0.0,
    double GradientClip = 1.0,
    bool TrainOnInputs = false,
    bool FreezeEmbeddings = false,
    string? ChatTemplate = null,
    int Seed = 42)
{
    [JsonIgnore]
    public int GradientAccumulationSteps => Math.Max(1, BatchSize / Math.Max(1, MicroBatchSize));
}

/// <summary>A JSONL file with its dataset id and format.</summary>
/// <param name="Format">null = detect it from the file (which is then validated with <see cref="JsonlValidator"/> first).</param>
public sealed record DatasetRef(Guid Id, string Path, DatasetFormat? Format = null);

/// <param name="Format">text, prompt_completion, messages → loss, perplexity, token_accuracy;
/// multiple_choice → acc, acc_norm; exact_match → exact_match.</param>
/// <param name="MaxNewTokens">Greedy generation budget for exact_match sets.</param>
public sealed record EvalSetSpec(Guid Id, string Name, EvalRole Role, string Path, DatasetFormat? Format = null, int MaxNewTokens = 256);
