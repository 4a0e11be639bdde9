using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Jobs;

/// <summary>
/// Turns a request into a complete <see cref="FineTuneSpec"/> or field errors (snake_case paths, as the client wrote them).
/// Checks the spec against the base model and the tenant's datasets before anything is stored.
/// </summary>
internal sealed class JobSpecValidator(LoraDbContext db, JobQueueOptions queue)
{
    private static readonly string[] TrainableFormats = ["text", "prompt_completion", "messages"];
    private static readonly string[] EvalFormats = ["text", "prompt_completion", "messages", "multiple_choice", "exact_match"];
    private static readonly string[] Schedules = ["constant", "linear", "cosine"];
    private const string AllLinear = "all-linear";

    public async Task<(FineTuneSpec? Spec, Dictionary<string, string[]> Errors)> ValidateAsync(
        CreateJobRequest request, Guid tenantId, CancellationToken ct)
    {
        var errors = new Dictionary<string, List<string>>();
        void Fail(string field, string message) =>
            (errors.TryGetValue(field, out var list) ? list : errors[field] = []).Add(message);

        BaseModel? model = null;
        if (string.IsNullOrWhiteSpace(request.BaseModel))
            Fail("base_model", "base_model is required (see GET /api/v1/models).");
        else if ((model = await db.BaseModels.AsNoTracking().SingleOrDefaultAsync(m => m.Name == request.BaseModel, ct)) is null)
            Fail("base_model", $"No base model named '{request.BaseModel}' (see GET /api/v1/models).");

        var method = request.Method ?? FineTuneMethod.Lora;
        var lora = method == FineTuneMethod.Lora ? request.Lora ?? new LoraSettings() : null;
        // The default ("all seven projections") means the model's own projections, e.g. c_attn, c_proj, c_fc on GPT-2.
        if (lora is not null && model is not null && lora.TargetModules.SequenceEqual(new LoraSettings().TargetModules))
            lora = lora with { TargetModules = model.LoraTargets };
        if (method == FineTuneMethod.Full && request.Lora is not null)
            Fail("lora", "lora settings apply only to method 'lora'.");
        if (lora is not null) ValidateLora(lora, model, Fail);

        var hp = request.Hyperparameters ?? new Hyperparameters();
        ValidateHyperparameters(hp, model, Fail);

        var datasets = await LoadDatasetsAsync(request, tenantId, ct);
        if (request.TrainingDataset is not { } trainingId)
            Fail("training_dataset", "training_dataset is required.");
        else
            CheckDataset(datasets, trainingId, "training_dataset", TrainableFormats, Fail);
        if (request.ValidationDataset is { } validationId)
            CheckDataset(datasets, validationId, "validation_dataset", TrainableFormats, Fail);

        var evaluation = request.Evaluation ?? new EvaluationSettings();
        for (var i = 0; i < evaluation.Target.Count; i++)
            CheckDataset(datasets, evaluation.Target[i], $"evaluation.target[{i}]", EvalFormats, Fail);
        for (var i = 0; i < evaluation.Source.Count; i++)
            CheckDataset(datasets, evaluation.Source[i], $"evaluation.source[{i}]", EvalFormats, Fail);
        if (evaluation.EveryNSteps < 0) Fail("evaluation.every_n_steps", "every_n_steps must be 0 (only at start and end) or more.");
        if (evaluation.MaxNewTokens is < 1 or > 4096) Fail("evaluation.max_new_tokens", "max_new_tokens must be between 1 and 4096.");
        if (evaluation.MaxExamples is < 1 or > 100_000) Fail("evaluation.max_examples", "max_examples must be between 1 and 100000.");

        var checkpointEvery = request.CheckpointEvery ?? 50;
        if (checkpointEvery < 0) Fail("checkpoint_every", "checkpoint_every must be 0 (only at the end) or more.");
        var maxAttempts = request.MaxAttempts ?? queue.MaxAttempts;
        if (maxAttempts is < 1 or > 20) Fail("max_attempts", "max_attempts must be between 1 and 20.");
        if (request.Name is { Length: > 200 }) Fail("name", "name must be at most 200 characters.");
        if (request.Tags is { } tags && (tags.Count > 20 || tags.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > 64)))
            Fail("tags", "at most 20 tags of 1 to 64 characters.");

        if (errors.Count > 0) return (null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        return (new FineTuneSpec
        {
            BaseModel = request.BaseModel!,
            Method = method,
            TrainingDataset = request.TrainingDataset!.Value,
            ValidationDataset = request.ValidationDataset,
            Lora = lora is null ? null : lora with { Alpha = lora.ResolvedAlpha },
            Hyperparameters = hp,
            Evaluation = evaluation,
            CheckpointEvery = checkpointEvery,
            MaxAttempts = maxAttempts,
        }, []);
    }

    private static void ValidateLora(LoraSettings lora, BaseModel? model, Action<string, string> fail)
    {
        RequireFinite(fail, ("lora.alpha", lora.Alpha), ("lora.dropout", lora.Dropout), ("lora.lora_plus_ratio", lora.LoraPlusRatio));
        if (lora.Rank < 1) fail("lora.rank", "rank must be at least 1.");
        else if (model is not null && lora.Rank > model.HiddenSize)
            fail("lora.rank", $"rank {lora.Rank} is larger than the model's hidden size ({model.HiddenSize}); a LoRA update cannot have a higher rank than its matrix.");
        if (lora.Alpha is <= 0) fail("lora.alpha", "alpha must be positive.");
        if (lora.Dropout is < 0 or >= 1) fail("lora.dropout", "dropout must be in [0, 1).");
        if (lora.LoraPlusRatio is <= 0) fail("lora.lora_plus_ratio", "lora_plus_ratio must be positive.");
        if (lora.TargetModules.Count == 0) fail("lora.target_modules", "name at least one module, or \"all-linear\".");
        if (model is null) return;
        for (var i = 0; i < lora.TargetModules.Count; i++)
        {
            var target = lora.TargetModules[i];
            if (target == AllLinear) continue;
            if (!model.LoraTargets.Contains(target))
                fail($"lora.target_modules[{i}]", $"'{target}' is not a module of {model.Name} ({model.Architecture}); it has: {string.Join(", ", model.LoraTargets)} or \"all-linear\".");
        }
    }

    private static void ValidateHyperparameters(Hyperparameters hp, BaseModel? model, Action<string, string> fail)
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
        if (!Schedules.Contains(hp.Schedule)) fail(p + "schedule", $"schedule must be one of {string.Join(", ", Schedules)}.");
        if (hp.WarmupRatio is < 0 or > 1) fail(p + "warmup_ratio", "warmup_ratio must be in [0, 1].");
        if (hp.WarmupSteps is < 0) fail(p + "warmup_steps", "warmup_steps must not be negative.");
        if (hp.MinLearningRateRatio is < 0 or > 1) fail(p + "min_learning_rate_ratio", "min_learning_rate_ratio must be in [0, 1].");
        if (hp.GradientClip < 0) fail(p + "gradient_clip", "gradient_clip must not be negative (0 disables clipping).");
    }

    /// <summary>NaN slips through every range check (all comparisons are false): refuse it, and infinities, by name.</summary>
    private static void RequireFinite(Action<string, string> fail, params (string Field, double? Value)[] values)
    {
        foreach (var (field, value) in values)
            if (value is { } v && !double.IsFinite(v)) fail(field, $"{field.Split('.')[^1]} must be a finite number.");
    }

    private async Task<Dictionary<Guid, Dataset>> LoadDatasetsAsync(CreateJobRequest request, Guid tenantId, CancellationToken ct)
    {
        var ids = new List<Guid>();
        if (request.TrainingDataset is { } t) ids.Add(t);
        if (request.ValidationDataset is { } v) ids.Add(v);
        if (request.Evaluation is { } e) ids.AddRange(e.Target.Concat(e.Source));
        // Another tenant's dataset is indistinguishable from a missing one.
        return await db.Datasets.AsNoTracking().Where(d => ids.Contains(d.Id) && d.TenantId == tenantId).ToDictionaryAsync(d => d.Id, ct);
    }

    private static void CheckDataset(Dictionary<Guid, Dataset> datasets, Guid id, string field, string[] formats, Action<string, string> fail)
    {
        if (!datasets.TryGetValue(id, out var dataset))
            fail(field, $"No dataset {id}.");
        else if (!formats.Contains(dataset.Format))
            fail(field, $"Dataset {id} has format '{dataset.Format}'; {field} needs one of {string.Join(", ", formats)}.");
    }
}
