using System.Text.Json;
using LoraService.Contracts.Jobs;

namespace LoraService.Api.OpenAi;

/// <summary>
/// Maps OpenAI's create request onto the one <see cref="JobSpec"/> (checked afterwards by the same JobSpecCheck as the
/// native API), and the spec's field names in its errors back to the request's parameter names.
/// </summary>
internal static class OpenAiJobMapping
{
    public const int MaxSuffixLength = 64;

    /// <summary>The spec, or the parameter that is wrong and why (checks that need only the request; the rest is JobSpecCheck's).</summary>
    public static (JobSpec? Spec, string? Param, string? Error) ToSpec(OpenAiJobRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Model)) return (null, "model", "model is required (a name from GET /api/v1/models).");
        if (string.IsNullOrWhiteSpace(request.TrainingFile)) return (null, "training_file", "training_file is required (a file id from POST /v1/files).");
        if (request.Method is { } method && method.Type is not (null or "supervised"))
            return (null, "method.type", $"method.type '{method.Type}' is not supported; this service fine-tunes with 'supervised' only.");
        if (request.Method is { Dpo: not null } or { Reinforcement: not null })
            return (null, "method", "Only method.supervised is supported.");
        if (request.Integrations is { ValueKind: not JsonValueKind.Null } integrations
            && !(integrations.ValueKind == JsonValueKind.Array && integrations.GetArrayLength() == 0))
            return (null, "integrations", "integrations are not supported.");
        if (request.Suffix is { Length: > MaxSuffixLength }) return (null, "suffix", $"suffix must be at most {MaxSuffixLength} characters.");
        if (request.Hyperparameters is not null && request.Method?.Supervised?.Hyperparameters is not null)
            return (null, "hyperparameters", "Give hyperparameters in method.supervised.hyperparameters or at the top level, not both.");

        var prefix = HyperparametersPrefix(request);
        var given = request.Method?.Supervised?.Hyperparameters ?? request.Hyperparameters ?? new OpenAiHyperparameters();
        var extension = request.LoraService ?? new LoraServiceJobOptions();
        var fineTuneMethod = extension.Method ?? FineTuneMethod.Lora;
        var hp = extension.Hyperparameters ?? new Hyperparameters();

        if (!TryReadInt(given.NEpochs, out var epochs)) return (null, prefix + "n_epochs", "n_epochs must be \"auto\" or a whole number.");
        if (!TryReadInt(given.BatchSize, out var batch)) return (null, prefix + "batch_size", "batch_size must be \"auto\" or a whole number.");
        if (!TryReadNumber(given.LearningRateMultiplier, out var multiplier) || multiplier is <= 0)
            return (null, prefix + "learning_rate_multiplier", "learning_rate_multiplier must be \"auto\" or a positive number.");

        if (epochs is { } e) hp = hp with { Epochs = e };
        // A batch OpenAI's way is split into micro batches that divide it (accumulation = batch / micro batch).
        if (batch is { } b) hp = hp with { BatchSize = b, MicroBatchSize = b > 0 && hp.MicroBatchSize > 0 ? Gcd(b, hp.MicroBatchSize) : hp.MicroBatchSize };
        if (multiplier is { } m) hp = hp with { LearningRate = m * JobDefaults.LearningRate(fineTuneMethod) };
        if (request.Seed is { } seed) hp = hp with { Seed = seed };

        var defaults = new JobSpec();
        return (new JobSpec
        {
            BaseModel = request.Model,
            Method = fineTuneMethod,
            TrainingDataset = FileReference(request.TrainingFile),
            ValidationDataset = FileReference(request.ValidationFile),
            Lora = extension.Lora,
            Hyperparameters = hp,
            Evaluation = extension.Evaluation is { } evaluation
                ? evaluation with { Target = Files(evaluation.Target), Source = Files(evaluation.Source) }
                : defaults.Evaluation,
            CheckpointEvery = extension.CheckpointEvery ?? defaults.CheckpointEvery,
            KeepCheckpoints = extension.KeepCheckpoints ?? defaults.KeepCheckpoints,
            ExportMerged = extension.ExportMerged,
            MaxAttempts = extension.MaxAttempts,
            MaxWallTime = extension.MaxWallTime,
            Name = string.IsNullOrEmpty(request.Suffix) ? null : request.Suffix,
            Tags = extension.Tags ?? defaults.Tags,
            Metadata = request.Metadata ?? defaults.Metadata,
        }, null, null);
    }

    /// <summary>A spec field (as JobSpecValidator names it) as the parameter of this request that set it.</summary>
    public static string ParamOf(string field, OpenAiJobRequest request) => field switch
    {
        "base_model" => "model",
        "training_dataset" => "training_file",
        "validation_dataset" => "validation_file",
        "name" => "suffix",
        "metadata" => "metadata",
        "hyperparameters.seed" when request.Seed is not null => "seed",
        "hyperparameters.epochs" when Given(request)?.NEpochs is not null => HyperparametersPrefix(request) + "n_epochs",
        "hyperparameters.batch_size" when Given(request)?.BatchSize is not null => HyperparametersPrefix(request) + "batch_size",
        "hyperparameters.learning_rate" when Given(request)?.LearningRateMultiplier is not null => HyperparametersPrefix(request) + "learning_rate_multiplier",
        _ => "lora_service." + field,
    };

    private static OpenAiHyperparameters? Given(OpenAiJobRequest request) => request.Method?.Supervised?.Hyperparameters ?? request.Hyperparameters;

    private static string HyperparametersPrefix(OpenAiJobRequest request) =>
        request.Hyperparameters is not null ? "hyperparameters." : "method.supervised.hyperparameters.";

    /// <summary>A <c>file-…</c> id becomes the dataset id the spec stores; anything else is left for the check to reject.</summary>
    private static string? FileReference(string? file) =>
        file is null ? null : OpenAiIds.TryParse(file, OpenAiIds.File, out var id) ? id.ToString() : file;

    private static IReadOnlyList<string> Files(IReadOnlyList<string>? files) => files is null ? [] : [.. files.Select(f => FileReference(f)!)];

    private static bool TryReadInt(JsonElement? value, out int? result)
    {
        result = null;
        if (value is not { } v || v.ValueKind == JsonValueKind.Null || IsAuto(v)) return true;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n)) { result = n; return true; }
        return false;
    }

    private static bool TryReadNumber(JsonElement? value, out double? result)
    {
        result = null;
        if (value is not { } v || v.ValueKind == JsonValueKind.Null || IsAuto(v)) return true;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var n) && double.IsFinite(n)) { result = n; return true; }
        return false;
    }

    private static bool IsAuto(JsonElement value) => value.ValueKind == JsonValueKind.String && value.GetString() == "auto";

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
