using System.Text.Json.Nodes;
using LoraService.Contracts.Jobs;
using LoraService.Contracts.Sweeps;
using LoraService.Domain.Jobs;

namespace LoraService.Api.Sweeps;

/// <summary>The body of <c>POST /api/v1/sweeps</c>: a name (each child is named "<c>name [coordinates]</c>"), <c>base</c>, a
/// job spec exactly as <c>POST /api/v1/jobs</c> takes it, and <c>grid</c>, dotted spec paths to the values to try, e.g.
/// <c>{"method": ["lora", "full"], "lora.rank": [4, 16, 64]}</c>.</summary>
public sealed record SweepRequest(string? Name, JsonObject? Base, JsonObject? Grid);

/// <summary>
/// One job on the learning/forgetting plane. <c>coordinates</c>: a sweep child's grid coordinates (spec path → value), null
/// in a comparison. <c>learning</c> and <c>forgetting</c>: at the latest evaluation, by the chosen metrics, exactly as the
/// job summary defines them; null until evaluated after step 0. <c>on_front</c>: no other job has at least as much
/// learning and at most as much forgetting, strictly better on one (identical points are all on it); false until
/// evaluated. <c>path</c>: the point after each evaluated step, step 0 (the base model, the origin) first.
/// </summary>
public sealed record TradeOffJobResponse(
    Guid JobId, string? Name, JobStatus Status, FineTuneMethod Method, int? Rank, double? LearningRate, JsonObject? Coordinates,
    double? Learning, double? Forgetting, bool OnFront, IReadOnlyList<TradeOffStep> Path);

/// <summary>The metrics the jobs' target sets (learning) and source sets (forgetting) measure: the choices for <c>?metric=</c>.</summary>
public sealed record MeasuredMetricsResponse(IReadOnlyList<string> Learning, IReadOnlyList<string> Forgetting);

/// <summary>
/// Jobs compared on the plane. <c>best</c>: the job with the most learning whose forgetting is at most <c>max_forgetting</c>
/// (no limit when not given; equal learning → less forgetting), null when none is. <c>front</c>: the jobs on the Pareto
/// front by increasing forgetting.
/// </summary>
public sealed record CompareResponse(
    string? BaseModel, string? LearningMetric, string? ForgettingMetric, MeasuredMetricsResponse Metrics, double? MaxForgetting,
    Guid? Best, IReadOnlyList<Guid> Front, IReadOnlyList<TradeOffJobResponse> Jobs);

/// <summary>A sweep: its grid, how many children are in each status, and its children on the plane in expansion order
/// (the fields as in <see cref="CompareResponse"/>).</summary>
public sealed record SweepResponse(
    Guid Id, string Name, DateTimeOffset CreatedAt, JsonNode? Grid, IReadOnlyDictionary<string, int> Statuses,
    string? BaseModel, string? LearningMetric, string? ForgettingMetric, MeasuredMetricsResponse Metrics, double? MaxForgetting,
    Guid? Best, IReadOnlyList<Guid> Front, IReadOnlyList<TradeOffJobResponse> Children);

public sealed record SweepSummaryResponse(Guid Id, string Name, DateTimeOffset CreatedAt, int Children, IReadOnlyDictionary<string, int> Statuses);
