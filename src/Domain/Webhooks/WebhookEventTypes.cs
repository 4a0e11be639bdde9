using LoraService.Domain.Jobs;

namespace LoraService.Domain.Webhooks;

/// <summary>The events an endpoint can subscribe to: OpenAI's names for a job's end, ours for the rest.</summary>
public static class WebhookEventTypes
{
    public const string Succeeded = "fine_tuning.job.succeeded";
    public const string Failed = "fine_tuning.job.failed";
    public const string Cancelled = "fine_tuning.job.cancelled";
    public const string Running = "job.running";
    public const string Evaluated = "job.evaluated";
    public const string ForgettingBudgetExceeded = "job.forgetting_budget_exceeded";

    public static readonly IReadOnlyList<string> All = [Succeeded, Failed, Cancelled, Running, Evaluated, ForgettingBudgetExceeded];

    /// <summary>The event a move to <paramref name="status"/> raises; null for moves nobody subscribes to (queued, cancelling).</summary>
    public static string? ForStatus(JobStatus status) => status switch
    {
        JobStatus.Running => Running,
        JobStatus.Succeeded => Succeeded,
        JobStatus.Failed => Failed,
        JobStatus.Cancelled => Cancelled,
        _ => null,
    };
}
