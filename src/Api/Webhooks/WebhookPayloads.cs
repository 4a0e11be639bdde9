using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Api.OpenAi;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Jobs;
using LoraService.Domain.Persistence;
using LoraService.Domain.Webhooks;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Webhooks;

/// <summary>
/// The body of an event: <c>{id, object: "event", type, created_at, data, details?}</c>. <c>data</c> is the job as
/// <c>GET /v1/fine_tuning/jobs/{id}</c> shows it, read when the event is fanned out, with the status it had when the
/// event happened; for <c>job.evaluated</c> and <c>job.forgetting_budget_exceeded</c> its learning and forgetting are
/// those at the event's step, which <c>details</c> also names.
/// </summary>
internal static class WebhookPayloads
{
    private static readonly JsonSerializerOptions Json = JobSpecJson.Configure(new JsonSerializerOptions());

    public static string EventId(Guid id) => "evt_" + id.ToString("N");

    public static async Task<Dictionary<Guid, string>> RenderAsync(LoraDbContext db, IReadOnlyList<WebhookEvent> events, CancellationToken ct)
    {
        var jobIds = events.Select(e => e.JobId).Distinct().ToList();
        var jobs = await db.Jobs.AsNoTracking().Where(j => jobIds.Contains(j.Id)).ToDictionaryAsync(j => j.Id, ct);
        var tenantIds = events.Select(e => e.TenantId).Distinct().ToList();
        var tenants = await db.Tenants.AsNoTracking().Where(t => tenantIds.Contains(t.Id)).ToDictionaryAsync(t => t.Id, t => t.Name, ct);
        var evaluated = events.Where(e => Step(e) is not null).Select(e => e.JobId).Distinct().ToList();
        var points = evaluated.Count == 0 ? [] : await db.MetricPoints.AsNoTracking()
            .Where(p => evaluated.Contains(p.JobId) && p.Name.StartsWith("eval/")).ToListAsync(ct);
        var pointsByJob = points.ToLookup(p => p.JobId);

        var payloads = new Dictionary<Guid, string>();
        foreach (var e in events)
        {
            JsonNode? data;
            JobSummary? atStep = null;
            if (Step(e) is { } step) atStep = JobSummary.FromMetrics(pointsByJob[e.JobId].Where(p => p.Step == 0 || p.Step == step));
            if (jobs.TryGetValue(e.JobId, out var job))
            {
                var shown = OpenAiJob.From(job, tenants.GetValueOrDefault(e.TenantId, ""), atStep);
                if (Enum.TryParse<JobStatus>(e.JobStatus, out var status))
                    shown = shown with { Status = OpenAiJob.StatusOf(status), LoraService = shown.LoraService with { Status = status } };
                data = JsonSerializer.SerializeToNode(shown, Json);
            }
            else
            {
                // Deleted before its event went out: the id and the status are all that is left to tell.
                data = new JsonObject
                {
                    ["object"] = "fine_tuning.job",
                    ["id"] = OpenAiIds.Of(OpenAiIds.Job, e.JobId),
                    ["status"] = Enum.TryParse<JobStatus>(e.JobStatus, out var s) ? OpenAiJob.StatusOf(s) : e.JobStatus.ToLowerInvariant(),
                };
            }
            var body = new JsonObject
            {
                ["id"] = EventId(e.Id),
                ["object"] = "event",
                ["type"] = e.Type,
                ["created_at"] = e.CreatedAt.ToUnixTimeSeconds(),
                ["data"] = data,
            };
            if (e.Details is not null)
            {
                var details = JsonNode.Parse(e.Details)!.AsObject();
                if (atStep is not null)
                {
                    details["learning"] = JsonSerializer.SerializeToNode(atStep.Learning, Json);
                    details["forgetting"] = JsonSerializer.SerializeToNode(atStep.Forgetting, Json);
                }
                body["details"] = details;
            }
            payloads[e.Id] = body.ToJsonString(Json);
        }
        return payloads;
    }

    private static int? Step(WebhookEvent e)
    {
        if (e.Details is null || e.Type is not (WebhookEventTypes.Evaluated or WebhookEventTypes.ForgettingBudgetExceeded)) return null;
        using var details = JsonDocument.Parse(e.Details);
        return details.RootElement.TryGetProperty("step", out var step) && step.TryGetInt32(out var s) ? s : null;
    }
}
