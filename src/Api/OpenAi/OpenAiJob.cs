using LoraService.Api.Jobs;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;

namespace LoraService.Api.OpenAi;

/// <summary>OpenAI's fine-tuning job object over a job row; <see cref="LoraService"/> carries what OpenAI's shape has no room for.</summary>
public sealed record OpenAiJob(
    string Id,
    string Model,
    long CreatedAt,
    long? FinishedAt,
    string? FineTunedModel,
    string OrganizationId,
    IReadOnlyList<string> ResultFiles,
    string Status,
    string? TrainingFile,
    string? ValidationFile,
    OpenAiJobHyperparameters Hyperparameters,
    int? TrainedTokens,
    OpenAiJobError? Error,
    string? UserProvidedSuffix,
    int Seed,
    long? EstimatedFinish,
    IReadOnlyList<object> Integrations,
    IReadOnlyDictionary<string, string> Metadata,
    OpenAiJobMethod Method,
    OpenAiJobExtension LoraService)
{
    public string Object => "fine_tuning.job";

    /// <remarks>organization: The tenant's name, the org segment of <c>fine_tuned_model</c>.</remarks>
    /// <remarks>summary: Learning and forgetting so far; null where not read (lists).</remarks>
    public static OpenAiJob From(FineTuneJob job, string organization, JobSummary? summary = null)
    {
        var spec = job.Spec;
        var hyperparameters = new OpenAiJobHyperparameters(spec.Hyperparameters.Epochs, spec.Hyperparameters.BatchSize,
            (spec.Hyperparameters.LearningRate ?? JobDefaults.LearningRate(spec.Method)) / JobDefaults.LearningRate(spec.Method));
        var succeeded = job.Status == JobStatus.Succeeded;
        return new OpenAiJob(
            OpenAiIds.Of(OpenAiIds.Job, job.Id),
            spec.BaseModel ?? "",
            job.CreatedAt.ToUnixTimeSeconds(),
            job.FinishedAt?.ToUnixTimeSeconds(),
            succeeded ? ModelName(job, organization) : null,
            "org-" + job.TenantId.ToString("N"),
            succeeded ? [OpenAiIds.Of(OpenAiIds.File, job.Id)] : [],
            StatusOf(job.Status),
            FileId(spec.TrainingDataset),
            FileId(spec.ValidationDataset),
            hyperparameters,
            succeeded ? (int)Math.Min(job.Progress.TokensSeen, int.MaxValue) : null,
            job.ErrorCode is null ? null : new OpenAiJobError(job.ErrorCode, job.ErrorMessage ?? "", null),
            job.Name,
            spec.Hyperparameters.Seed,
            // Left out: OpenAI's SDKs sleep until estimated_finish, which an ETA from the first steps would make them overshoot.
            null,
            [],
            spec.Metadata,
            new OpenAiJobMethod("supervised", new OpenAiJobSupervised(hyperparameters)),
            new OpenAiJobExtension(job.Id, job.Status, spec,
                new JobProgressResponse(job.Progress.Step, job.Progress.TotalSteps, job.Progress.Epoch, job.Progress.TokensSeen, null, null),
                summary?.Learning, summary?.Forgetting));
    }

    /// <summary>OpenAI has no "cancelling": a cancel that was accepted always ends cancelled, so it already reads so.</summary>
    public static string StatusOf(JobStatus status) => status switch
    {
        JobStatus.Queued => "queued",
        JobStatus.Running => "running",
        JobStatus.Succeeded => "succeeded",
        JobStatus.Failed => "failed",
        _ => "cancelled",
    };

    /// <summary><c>ft:&lt;base&gt;:&lt;org&gt;:&lt;suffix&gt;:&lt;job id&gt;</c>, as OpenAI names its fine-tuned models.</summary>
    public static string ModelName(FineTuneJob job, string organization) =>
        $"ft:{job.Spec.BaseModel}:{Slug(organization)}:{Slug(job.Name ?? "")}:{job.Id:N}";

    private static string? FileId(string? dataset) => dataset is null ? null
        : Guid.TryParse(dataset, out var id) ? OpenAiIds.Of(OpenAiIds.File, id) : dataset;

    private static string Slug(string text) =>
        new string([.. text.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-')]);
}

public sealed record OpenAiJobHyperparameters(int NEpochs, int BatchSize, double LearningRateMultiplier);

public sealed record OpenAiJobMethod(string Type, OpenAiJobSupervised Supervised);

public sealed record OpenAiJobSupervised(OpenAiJobHyperparameters Hyperparameters);

public sealed record OpenAiJobError(string Code, string Message, string? Param);

/// <summary><c>lora_service</c> on a job: the native id and status, the resolved spec (LoRA, evaluation sets, every
/// hyperparameter), progress, and on <c>GET /v1/fine_tuning/jobs/{id}</c> learning (target sets) and forgetting (source sets).</summary>
public sealed record OpenAiJobExtension(Guid JobId, JobStatus Status, JobSpec Spec, JobProgressResponse Progress,
    IReadOnlyDictionary<string, double>? Learning, IReadOnlyDictionary<string, double>? Forgetting);
