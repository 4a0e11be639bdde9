using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using LoraService.Datasets.Samples;

namespace LoraService.Study;

/// <summary>
/// The study through the REST API: corpora → random model → pretraining (full fine-tuning on the source world) → promote
/// → the grid on the target domain → measurements. Every name carries a run id, so a rerun on the same service does not collide.
/// </summary>
sealed class StudyRunner(ServiceClient api, StudyProfile profile, string workDirectory, TextWriter log)
{
    private readonly string run = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
    private Sets sets = null!;

    /// <summary>Dataset ids: the two training sets and the four evaluation sets.</summary>
    private sealed record Sets(Guid SourceTrain, Guid SourceHeldOut, Guid SourceMc, Guid TargetTrain, Guid TargetHeldOut, Guid TargetEm)
    {
        public Guid[] Target => [TargetEm, TargetHeldOut];
        public Guid[] Source => [SourceMc, SourceHeldOut];
    }

    public async Task<StudyResult> RunAsync()
    {
        var clock = Stopwatch.StartNew();
        var files = StudyCorpora.WriteAll(Path.Combine(workDirectory, "corpora"), profile.People, profile.SourceRows, profile.TargetRows, profile.EvalRows, profile.Seed);
        log.WriteLine($"[study] corpora in {Path.Combine(workDirectory, "corpora")}; uploading");
        var ids = new Dictionary<string, Guid>();
        foreach (var (name, path) in files) ids[name] = await api.UploadAsync($"study-{run}-{name}", path);
        sets = new Sets(ids["source-train"], ids["source-heldout"], ids["source-mc"], ids["target-train"], ids["target-heldout"], ids["target-em"]);

        var pretraining = await PretrainAsync();
        log.WriteLine($"[study] pretrained: source acc_norm {pretraining.AccNormBefore:0.000} → {pretraining.AccNormAfter:0.000}, " +
            $"held-out perplexity {pretraining.PerplexityBefore:0.00} → {pretraining.PerplexityAfter:0.00}");
        var grid = Grid().ToList();
        log.WriteLine($"[study] grid: {grid.Count} jobs on {pretraining.Model}");
        var jobs = await RunGrid(pretraining.Model, grid);
        var outcomes = new List<JobOutcome>();
        foreach (var (point, job) in jobs) outcomes.Add(await MeasureAsync(point, job));
        var first = await api.GetAsync($"api/v1/jobs/{jobs[0].Job}/summary");
        var baseline = new Baseline(
            SummaryReading.Final(first, sets.TargetEm, "exact_match", baseline: true), SummaryReading.Final(first, sets.TargetHeldOut, "loss", baseline: true),
            SummaryReading.Final(first, sets.SourceMc, "acc_norm", baseline: true), SummaryReading.Final(first, sets.SourceHeldOut, "perplexity", baseline: true));
        return new StudyResult(profile, pretraining, baseline, outcomes, clock.Elapsed.TotalSeconds);
    }

    private async Task<Pretraining> PretrainAsync()
    {
        var random = $"study-{run}-random";
        await api.CreateModelAsync(new { name = random, architecture = "llama", hidden_size = profile.Hidden, layers = profile.Layers, heads = profile.Heads,
            max_positions = profile.Positions, seed = profile.Seed % 1000 }, random);
        var spec = new JsonObject
        {
            ["name"] = $"study {run} pretraining",
            ["base_model"] = random,
            ["method"] = "full",
            ["training_dataset"] = sets.SourceTrain.ToString(),
            ["hyperparameters"] = new JsonObject
            {
                ["learning_rate"] = profile.PretrainLearningRate, ["max_steps"] = profile.PretrainSteps, ["batch_size"] = profile.PretrainBatch,
                ["micro_batch_size"] = profile.PretrainBatch, ["max_sequence_length"] = profile.PretrainSequenceLength, ["seed"] = profile.Seed % 1000,
            },
            ["evaluation"] = new JsonObject
            {
                ["source"] = new JsonArray(sets.SourceMc.ToString(), sets.SourceHeldOut.ToString()), ["every_n_steps"] = 0, ["max_examples"] = 200,
            },
            ["checkpoint_every"] = 0,
        };
        var id = await api.CreateJobAsync(spec);
        log.WriteLine($"[study] pretraining {random} on the source world: job {id}, {profile.PretrainSteps} steps");
        var job = await api.WaitForJobAsync(id, "pretraining", log);
        var summary = await api.GetAsync($"api/v1/jobs/{id}/summary");
        var promoted = $"study-{run}-base";
        await api.PostAsync($"api/v1/jobs/{id}/promote", new { name = promoted });
        log.WriteLine($"[study] promoted the pretrained model as {promoted}");
        return new Pretraining(id, promoted, profile.PretrainSteps,
            SummaryReading.Final(summary, sets.SourceMc, "acc_norm", baseline: true), SummaryReading.Final(summary, sets.SourceMc, "acc_norm"),
            SummaryReading.Final(summary, sets.SourceHeldOut, "perplexity", baseline: true), SummaryReading.Final(summary, sets.SourceHeldOut, "perplexity"),
            Seconds(job));
    }

    private IEnumerable<GridPoint> Grid()
    {
        foreach (var lr in profile.FullLearningRates) yield return new GridPoint("full", null, lr);
        foreach (var rank in profile.Ranks)
            foreach (var lr in profile.LoraLearningRates) yield return new GridPoint("lora", rank, lr);
    }

    /// <summary>The job spec of one grid point: α = 2r on every projection (the service's defaults), the same data, steps, seed and evaluations.</summary>
    private JsonObject Spec(string baseModel, GridPoint point)
    {
        var spec = new JsonObject
        {
        ["name"] = $"study {run} {point.Label} lr={point.LearningRate:g3}",
        ["base_model"] = baseModel,
        ["method"] = point.Method,
        ["training_dataset"] = sets.TargetTrain.ToString(),
        ["hyperparameters"] = new JsonObject
        {
            ["learning_rate"] = point.LearningRate, ["max_steps"] = profile.Steps, ["batch_size"] = profile.Batch, ["micro_batch_size"] = profile.Batch,
            ["max_sequence_length"] = profile.SequenceLength, ["seed"] = profile.Seed % 1000,
        },
        ["evaluation"] = new JsonObject
        {
            ["target"] = new JsonArray(sets.Target.Select(t => (JsonNode)t.ToString()).ToArray()),
            ["source"] = new JsonArray(sets.Source.Select(s => (JsonNode)s.ToString()).ToArray()),
            ["every_n_steps"] = profile.EvalEvery, ["max_examples"] = profile.MaxExamples, ["max_new_tokens"] = profile.MaxNewTokens,
        },
        ["checkpoint_every"] = 0,
        };
        if (point.Rank is { } rank)
        {
            spec["lora"] = new JsonObject { ["rank"] = rank, ["alpha"] = 2 * rank };
            spec["export_merged"] = false;
        }
        return spec;
    }

    /// <summary>
    /// Runs the grid and waits for every job. The one place that creates the grid's jobs: today one POST /jobs per point
    /// (queued together, a worker takes them in order); POST /sweeps can replace it without touching the rest.
    /// </summary>
    private async Task<IReadOnlyList<(GridPoint Point, Guid Job)>> RunGrid(string baseModel, IReadOnlyList<GridPoint> grid)
    {
        var jobs = new List<(GridPoint, Guid)>();
        foreach (var point in grid) jobs.Add((point, await api.CreateJobAsync(Spec(baseModel, point))));
        foreach (var (point, job) in jobs) await api.WaitForJobAsync(job, $"{point.Label} lr={point.LearningRate:g3}", log);
        return jobs;
    }

    private async Task<JobOutcome> MeasureAsync(GridPoint point, Guid id)
    {
        var job = await api.GetAsync($"api/v1/jobs/{id}");
        var summary = await api.GetAsync($"api/v1/jobs/{id}/summary");
        var spectral = await api.GetAsync(summary.GetProperty("spectral_report_url").GetString()!);
        var (attention, mlp) = SummaryReading.MedianRank90(spectral);
        var metrics = await api.GetAsync($"api/v1/jobs/{id}/metrics");
        return new JobOutcome(point, id, await api.TrainableParametersAsync(id),
            SummaryReading.Side(summary, "learning", "loss"), SummaryReading.Side(summary, "forgetting", "loss"),
            SummaryReading.Final(summary, sets.TargetEm, "exact_match"), SummaryReading.Final(summary, sets.TargetHeldOut, "loss"),
            SummaryReading.Final(summary, sets.SourceMc, "acc_norm"), SummaryReading.Final(summary, sets.SourceHeldOut, "perplexity"),
            attention, mlp, Seconds(job), SummaryReading.Path(metrics, sets.Target, sets.Source));
    }

    private static double Seconds(System.Text.Json.JsonElement job) =>
        (job.GetProperty("finished_at").GetDateTimeOffset() - job.GetProperty("started_at").GetDateTimeOffset()).TotalSeconds;
}
