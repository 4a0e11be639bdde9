using LoraService.Contracts;
using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Datasets;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using LoraService.Tokenization;
using LoraService.Tokenization.Planning;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Jobs;

/// <summary>
/// What a checked job would do, without storing or running it: the engine's own data preparation and step count over
/// the job's files (<see cref="RunPlan"/>), and an ETA from the training speed this queue's workers measured on recent
/// jobs of the same model and method.
/// </summary>
internal sealed class JobDryRun(LoraDbContext db, IArtifactStore store, LoraOptions lora)
{
    /// <summary>How many recent jobs the measured speed is taken from.</summary>
    private const int SpeedSample = 5;

    public async Task<JobPlanResponse> PlanAsync(JobSpec spec, Guid tenantId, string queue, CancellationToken ct)
    {
        var rows = await db.Datasets.FindForAsync(spec, tenantId, ct);
        var files = rows.ToDictionary(r => r.Key, r => new DatasetFile(store.PathFor(r.Value.StorageKey),
            DatasetFormatNames.TryParse(r.Value.Format, out var format) ? format : throw new InvalidDataException($"dataset {r.Key} has an unknown format")));
        var modelDirectory = Path.Combine(lora.ModelsPath, spec.BaseModel!);
        var plan = await Task.Run(() => RunPlan.For(modelDirectory, spec, files, ct), ct);

        var datasets = plan.Datasets.Select(d => new DatasetPlanResponse(d.Field, d.Reference, rows[d.Reference].Name, d.Format.ToWireName(),
            d.Rows, d.Examples, d.Tokens, d.ScoredTokens, d.Truncated, d.Dropped)).ToList();
        var training = plan.Training!;
        var batch = spec.Hyperparameters.BatchSize;
        double? tokensPerStep = training.Examples == 0 ? null : (double)training.Tokens!.Value / training.Examples * batch;
        var speed = await MeasuredSpeedAsync(spec, queue, ct);
        double? eta = speed is { } s && tokensPerStep is { } t ? Math.Round(plan.OptimizerSteps * t / s, 1) : null;
        var basis = speed is { } measured
            ? $"median training speed of the last {SpeedSample} succeeded {spec.Method.ToString().ToLowerInvariant()} jobs of {spec.BaseModel} on queue '{queue}' ({measured:F0} tokens/s); evaluation and export time not included"
            : $"no {spec.Method.ToString().ToLowerInvariant()} job of {spec.BaseModel} has succeeded on queue '{queue}' yet, so there is no measured speed";
        return new JobPlanResponse(spec, datasets, plan.OptimizerSteps, tokensPerStep is { } tps ? Math.Round(tps, 1) : null, plan.ChatTemplate, eta, basis);
    }

    /// <summary>The median of each recent comparable job's mean train/tokens_per_s; null when none has run.</summary>
    private async Task<double?> MeasuredSpeedAsync(JobSpec spec, string queue, CancellationToken ct)
    {
        // The stored spec is camelCase JSON with enum names (see EntityConfigurations).
        var jobs = await db.Database.SqlQuery<Guid>($"""
            SELECT id AS "Value" FROM jobs
            WHERE status = 'Succeeded' AND queue = {queue} AND spec->>'baseModel' = {spec.BaseModel} AND spec->>'method' = {spec.Method.ToString()}
            ORDER BY finished_at DESC LIMIT {SpeedSample}
            """).ToListAsync(ct);
        if (jobs.Count == 0) return null;
        var speeds = await db.MetricPoints.AsNoTracking()
            .Where(m => jobs.Contains(m.JobId) && m.Name == MetricNames.TokensPerSecond)
            .GroupBy(m => m.JobId).Select(g => g.Average(m => m.Value)).ToListAsync(ct);
        if (speeds.Count == 0) return null;
        speeds.Sort();
        return speeds.Count % 2 == 1 ? speeds[speeds.Count / 2] : (speeds[speeds.Count / 2 - 1] + speeds[speeds.Count / 2]) / 2;
    }
}

/// <summary>A dataset as the job would read it.</summary>
/// <param name="Field">Where the spec refers to it, e.g. <c>evaluation.source[0]</c>.</param>
/// <param name="Id">The dataset id.</param>
/// <param name="Name">The dataset's name.</param>
/// <param name="Format">text, prompt_completion, messages, multiple_choice or exact_match.</param>
/// <param name="Rows">Rows read (eval sets: at most evaluation.max_examples).</param>
/// <param name="Examples">Training examples after packing (text) or truncation; for multiple_choice and exact_match, the rows evaluated.</param>
/// <param name="Tokens">Tokens in those examples; null for multiple_choice and exact_match.</param>
/// <param name="ScoredTokens">Tokens the loss is computed on (completions unless train_on_inputs).</param>
/// <param name="Truncated">Rows longer than max_sequence_length, cut on the right.</param>
/// <param name="Dropped">Rows left with no scored token, not trained or evaluated on.</param>
public sealed record DatasetPlanResponse(string Field, string Id, string Name, string Format, int Rows, int Examples, long? Tokens,
    long? ScoredTokens, int Truncated, int Dropped);

/// <summary>The answer to a dry run: nothing was stored.</summary>
/// <param name="Spec">The spec as it would be stored, with every default resolved.</param>
/// <param name="Datasets">Every dataset the spec refers to, in spec order.</param>
/// <param name="OptimizerSteps">The optimizer steps the job would run (0: nothing in the training set can be scored).</param>
/// <param name="TokensPerStep">Mean training tokens per optimizer step.</param>
/// <param name="ChatTemplate">The template messages rows are rendered with, if any set is in the messages format.</param>
/// <param name="EtaSeconds">Training time at the measured speed; null when there is none yet (see <paramref name="EtaBasis"/>).</param>
/// <param name="EtaBasis">Where the ETA comes from, or why there is none.</param>
public sealed record JobPlanResponse(JobSpec Spec, IReadOnlyList<DatasetPlanResponse> Datasets, int OptimizerSteps, double? TokensPerStep,
    string? ChatTemplate, double? EtaSeconds, string EtaBasis);
