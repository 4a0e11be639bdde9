namespace LoraService.Contracts.Jobs;

/// <summary>
/// The one set of rules for a <see cref="JobSpec"/>, used by the API (422 problem details), the CLI and the engine.
/// Errors are keyed by the field's path as the client wrote it (<c>hyperparameters.learning_rate</c>,
/// <c>lora.target_modules[2]</c>). Model-dependent rules apply when the context knows the model.
/// </summary>
public static class JobSpecValidator
{
    public const int MaxTags = 20;
    public const int MaxMetadataEntries = 16;

    public static IReadOnlyDictionary<string, string[]> Validate(JobSpec spec, JobSpecContext context)
    {
        var errors = new Dictionary<string, List<string>>();
        void Fail(string field, string message) => (errors.TryGetValue(field, out var list) ? list : errors[field] = []).Add(message);

        var model = context.Model;
        if (string.IsNullOrWhiteSpace(spec.BaseModel)) Fail("base_model", "base_model is required.");
        else if (model is null) Fail("base_model", context.ModelProblem ?? $"No base model '{spec.BaseModel}'.");
        else if (!model.Supported)
        {
            Fail("base_model", $"{model.NameOrPath} is not supported: {model.UnsupportedReason ?? "unknown reason"}.");
            model = null; // its other facts are not a basis for further checks
        }

        if (spec.Method == FineTuneMethod.Full && spec.Lora is not null) Fail("lora", "lora settings apply only to method 'lora'.");
        if (spec.Method == FineTuneMethod.Lora && spec.Lora is { } lora) CheckLora(lora, model, Fail);

        if (spec.Hyperparameters is not { } hp) Fail("hyperparameters", "hyperparameters must be an object (omit it for the defaults).");
        else CheckHyperparameters(hp, model, Fail);

        if (spec.Evaluation is not { } evaluation) Fail("evaluation", "evaluation must be an object (omit it for the defaults).");
        else CheckEvaluation(evaluation, Fail);

        if (spec.TrainingDataset is null) Fail("training_dataset", "training_dataset is required.");
        var found = CheckDatasets(spec, context, Fail);
        if (found.Any(f => f.Format == "messages") && spec.Hyperparameters?.ChatTemplate is null && model?.ChatTemplate == ChatTemplateNames.Unrecognised)
            Fail("hyperparameters.chat_template", $"{model.NameOrPath}'s tokenizer has a chat template this service cannot parse (it uses Jinja syntax the engine does not support); " +
                $"messages data needs one named: {string.Join(", ", ChatTemplateNames.Known)}.");

        if (spec.ForgettingBudget is { } budget) CheckBudget(budget, spec, found, Fail);
        if (spec.CheckpointEvery < 0) Fail("checkpoint_every", "checkpoint_every must be 0 (only when stopped) or more.");
        if (spec.KeepCheckpoints is < 0 or > 1000) Fail("keep_checkpoints", "keep_checkpoints must be between 0 (all) and 1000.");
        if (spec.MaxAttempts is < 1 or > 20) Fail("max_attempts", "max_attempts must be between 1 and 20.");
        if (spec.MaxWallTime is { } wall && (wall < TimeSpan.FromSeconds(10) || wall > TimeSpan.FromDays(30)))
            Fail("max_wall_time", "max_wall_time must be between 00:00:10 and 30.00:00:00.");
        if (spec.Name is { Length: > 200 }) Fail("name", "name must be at most 200 characters.");
        if (spec.Tags is null) Fail("tags", "tags must be a list of strings (omit it for none).");
        else if (spec.Tags.Count > MaxTags || spec.Tags.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > 64))
            Fail("tags", $"at most {MaxTags} tags of 1 to 64 characters.");
        if (spec.Metadata is null) Fail("metadata", "metadata must be an object of string values (omit it for none).");
        else if (spec.Metadata.Count > MaxMetadataEntries
            || spec.Metadata.Any(m => string.IsNullOrWhiteSpace(m.Key) || m.Key.Length > 64 || m.Value is null || m.Value.Length > 512))
            Fail("metadata", $"at most {MaxMetadataEntries} entries; keys of 1 to 64 characters, string values of at most 512.");

        return errors.ToDictionary(e => e.Key, e => e.Value.ToArray());
    }

    private static void CheckLora(LoraSettings lora, ModelFacts? model, Action<string, string> fail)
    {
        RequireFinite(fail, ("lora.alpha", lora.Alpha), ("lora.dropout", lora.Dropout), ("lora.lora_plus_ratio", lora.LoraPlusRatio));
        if (lora.Rank < 1) fail("lora.rank", "rank must be at least 1.");
        else if (model is not null && lora.Rank > model.HiddenSize)
            fail("lora.rank", $"rank {lora.Rank} is larger than the model's hidden size ({model.HiddenSize}); a LoRA update cannot have a higher rank than its matrix.");
        if (lora.Alpha is <= 0) fail("lora.alpha", "alpha must be positive.");
        if (lora.Dropout is < 0 or >= 1) fail("lora.dropout", "dropout must be in [0, 1).");
        if (lora.LoraPlusRatio is <= 0) fail("lora.lora_plus_ratio", "lora_plus_ratio must be positive.");
        if (lora.TargetModules is not { } targets) return;
        if (targets.Count == 0) fail("lora.target_modules", $"name at least one module, or \"{LoraSettings.AllLinear}\" (or omit it).");
        if (model is null) return;
        for (var i = 0; i < targets.Count; i++)
            if (targets[i] != LoraSettings.AllLinear && !model.LoraTargets.Contains(targets[i]))
                fail($"lora.target_modules[{i}]", $"'{targets[i]}' is not a module of {model.NameOrPath} ({model.Architecture}); " +
                    $"it has: {string.Join(", ", model.LoraTargets)} or \"{LoraSettings.AllLinear}\".");
    }

    private static void CheckHyperparameters(Hyperparameters hp, ModelFacts? model, Action<string, string> fail)
    {
        const string p = "hyperparameters.";
        RequireFinite(fail, (p + "learning_rate", hp.LearningRate), (p + "weight_decay", hp.WeightDecay), (p + "warmup_ratio", hp.WarmupRatio),
            (p + "min_learning_rate_ratio", hp.MinLearningRateRatio), (p + "gradient_clip", hp.GradientClip));
        if (hp.LearningRate is <= 0 or >= 1) fail(p + "learning_rate", "learning_rate must be in (0, 1).");
        if (hp.Epochs is < 1 or > 1000) fail(p + "epochs", "epochs must be between 1 and 1000.");
        if (hp.MaxSteps is < 1) fail(p + "max_steps", "max_steps must be at least 1 when given.");
        if (hp.BatchSize < 1) fail(p + "batch_size", "batch_size must be at least 1.");
        if (hp.MicroBatchSize < 1) fail(p + "micro_batch_size", "micro_batch_size must be at least 1.");
        else if (hp.BatchSize % hp.MicroBatchSize != 0)
            fail(p + "micro_batch_size", $"batch_size ({hp.BatchSize}) must be a multiple of micro_batch_size ({hp.MicroBatchSize}).");
        if (hp.MaxSequenceLength < 2) fail(p + "max_sequence_length", "max_sequence_length must be at least 2.");
        else if (model is not null && hp.MaxSequenceLength > model.MaxPositions)
            fail(p + "max_sequence_length", $"max_sequence_length {hp.MaxSequenceLength} exceeds the model's {model.MaxPositions} positions.");
        if (hp.WeightDecay < 0) fail(p + "weight_decay", "weight_decay must not be negative.");
        if (!Enum.IsDefined(hp.Schedule)) fail(p + "schedule", "schedule must be one of constant, linear, cosine.");
        if (hp.WarmupRatio is < 0 or > 1) fail(p + "warmup_ratio", "warmup_ratio must be in [0, 1].");
        if (hp.WarmupSteps is < 0) fail(p + "warmup_steps", "warmup_steps must not be negative.");
        if (hp.MinLearningRateRatio is < 0 or > 1) fail(p + "min_learning_rate_ratio", "min_learning_rate_ratio must be in [0, 1].");
        if (hp.GradientClip < 0) fail(p + "gradient_clip", "gradient_clip must not be negative (0 disables clipping).");
        if (hp.ChatTemplate is { } template && !ChatTemplateNames.Known.Contains(template))
            fail(p + "chat_template", $"unknown chat template '{template}'; choose one of: {string.Join(", ", ChatTemplateNames.Known)} (or omit it to use the model's).");
    }

    private static void CheckEvaluation(EvaluationSettings evaluation, Action<string, string> fail)
    {
        if (evaluation.Target is null) fail("evaluation.target", "target must be a list (it may be empty).");
        if (evaluation.Source is null) fail("evaluation.source", "source must be a list (it may be empty).");
        if (evaluation.EveryNSteps < 0) fail("evaluation.every_n_steps", "every_n_steps must be 0 (only at start and end) or more.");
        if (evaluation.MaxNewTokens is < 1 or > 4096) fail("evaluation.max_new_tokens", "max_new_tokens must be between 1 and 4096.");
        if (evaluation.MaxExamples is < 1 or > 100_000) fail("evaluation.max_examples", "max_examples must be between 1 and 100000.");
        if (evaluation.BatchSize is < 1 or > 1024) fail("evaluation.batch_size", "batch_size must be between 1 and 1024.");
        if (evaluation.BatchTokens is < 1 or > 1_048_576) fail("evaluation.batch_tokens", "batch_tokens must be between 1 and 1048576.");
        if (evaluation.Samples is < 0 or > 20) fail("evaluation.samples", "samples must be between 0 and 20.");
    }

    /// <summary>Which metrics each dataset format produces at an evaluation.</summary>
    public static IReadOnlyList<string> MetricsOf(string format) => format switch
    {
        "multiple_choice" => ["acc", "acc_norm"],
        "exact_match" => ["exact_match"],
        _ => ["loss", "perplexity", "token_accuracy"],
    };

    private static void CheckBudget(ForgettingBudget budget, JobSpec spec, IReadOnlyList<(DatasetUse Use, string Format)> found, Action<string, string> fail)
    {
        const string p = "forgetting_budget.";
        RequireFinite(fail, (p + "max", budget.Max));
        if (budget.Max < 0) fail(p + "max", "max must not be negative.");
        if (!Enum.IsDefined(budget.Action)) fail(p + "action", "action must be stop or select.");
        if (spec.Evaluation?.Source is not { Count: > 0 })
        {
            fail("forgetting_budget", "a forgetting budget needs evaluation.source sets to measure forgetting on.");
            return;
        }
        if (spec.Evaluation.EveryNSteps < 1)
            fail("evaluation.every_n_steps", "a forgetting budget needs periodic evaluations (every_n_steps of 1 or more).");
        var measured = found.Where(f => f.Use == DatasetUse.Source).SelectMany(f => MetricsOf(f.Format)).Distinct().ToList();
        if (measured.Count > 0 && !measured.Contains(budget.Metric))
            fail(p + "metric", $"'{budget.Metric}' is not measured on the source sets; they produce: {string.Join(", ", measured)}.");
    }

    /// <returns>The use and format of each dataset found.</returns>
    private static List<(DatasetUse Use, string Format)> CheckDatasets(JobSpec spec, JobSpecContext context, Action<string, string> fail)
    {
        var formats = new List<(DatasetUse, string)>();
        foreach (var (field, reference, use) in spec.DatasetReferences())
        {
            if (context.FindDataset(reference) is not { } dataset)
            {
                fail(field, $"No dataset {reference}{context.DatasetHint}.");
                continue;
            }
            formats.Add((use, dataset.Format));
            var allowed = use is DatasetUse.Training or DatasetUse.Validation ? DatasetFormats.Trainable : DatasetFormats.Evaluable;
            if (!allowed.Contains(dataset.Format))
                fail(field, $"Dataset {reference} has format '{dataset.Format}'; {field.Split('[')[0]} needs one of {string.Join(", ", allowed)}.");
        }
        return formats;
    }

    /// <summary>NaN slips through every range check (all comparisons are false): refuse it, and infinities, by name.</summary>
    private static void RequireFinite(Action<string, string> fail, params (string Field, double? Value)[] values)
    {
        foreach (var (field, value) in values)
            if (value is { } v && !double.IsFinite(v)) fail(field, $"{field.Split('.')[^1]} must be a finite number.");
    }
}
