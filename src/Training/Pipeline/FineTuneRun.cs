using System.Text.Json;
using LoraService.Datasets;
using LoraService.Training.Checkpoints;
using LoraService.Training.Evaluation;
using LoraService.Training.Export;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using LoraService.Training.Spectral;
using LoraService.Training.Tokenization;
using LoraService.Training.Loop;
using static TorchSharp.torch;
using LoraService.Contracts;
using LoraService.Contracts.Jobs;

namespace LoraService.Training.Pipeline;

/// <summary>
/// One fine-tuning run end to end, as the worker and the CLI call it:
/// load tokenizer and data → load model, attach LoRA or unfreeze → evaluate the base model (step 0) →
/// train with evaluations and checkpoints → export adapter / merged / full model, spectral.json, metrics.jsonl, summary.json.
/// Synchronous: TorchSharp dispose scopes are thread-local.
/// </summary>
/// <remarks>
/// Work directory layout: <c>checkpoints/checkpoint-NNNNNNNN/</c> and <c>metrics.jsonl</c> (the journal of every metric so
/// far). If a checkpoint exists the run resumes from the newest one: same data order, weights, optimizer and RNG state,
/// so it ends where an uninterrupted run would. Output layout: LoRA → <c>adapter/</c> (PEFT) and, with export_merged,
/// <c>merged/</c> (HF checkpoint); full → <c>model/</c>; always <c>spectral.json</c>, <c>metrics.jsonl</c>,
/// <c>summary.json</c>. Each top-level entry is written in a temporary folder and renamed into place.
/// </remarks>
public static class FineTuneRun
{
    public const string CheckpointsFolder = "checkpoints";
    public const string SpectralFile = "spectral.json";
    public const string MetricsFile = "metrics.jsonl";
    public const string SummaryFile = "summary.json";
    public const string AdapterFolder = "adapter";
    public const string MergedFolder = "merged";
    public const string ModelFolder = "model";

    /// <summary>spectral.json and summary.json: snake_case, indented; a NaN metric is written as "NaN" rather than failing the export.</summary>
    private static readonly JsonSerializerOptions ArtifactJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
    };

    private sealed record PreparedEval(string Role, Guid Id, string Name, Func<IReadOnlyDictionary<string, double>> Run);

    /// <remarks>
    /// A cancel is honoured in every phase and never surfaces as <see cref="OperationCanceledException"/>: during data
    /// preparation, model load or an evaluation (the step-0 baseline included) the run returns
    /// <see cref="RunOutcome.Cancelled"/> at the next batch, example or phase boundary, keeping the trainer's checkpoints.
    /// The cancel is checked once more right before export; an export already under way finishes (it is atomic).
    /// Progress is reported to <see cref="RunPulse"/> throughout.
    /// </remarks>
    public static FineTuneRunResult Execute(FineTuneRunSpec spec, IFineTuneObserver? observer = null, CancellationToken cancellationToken = default)
    {
        observer ??= FineTuneCallbacks.None;
        RunPulse.Enter(RunPulse.Preparing);
        var totalSteps = 0;
        try
        {
            return Execute(spec, observer, cancellationToken, total => totalSteps = total);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled outside the trainer's step loop (data, model load, evaluation set-up): nothing new was checkpointed.
            var latest = Directory.Exists(spec.WorkDirectory)
                ? TrainingCheckpoint.Latest(Path.Combine(spec.WorkDirectory, CheckpointsFolder))
                : null;
            var steps = latest is null ? 0 : ReadState(latest).Step;
            observer.OnEvent("info", latest is null ? "Cancelled before any checkpoint" : $"Cancelled; resuming will start from step {steps} ({latest})");
            return new FineTuneRunResult(RunOutcome.Cancelled, steps, totalSteps, 0, []);
        }
    }

    private static FineTuneRunResult Execute(FineTuneRunSpec spec, IFineTuneObserver observer, CancellationToken cancellationToken,
        Action<int> knownTotalSteps)
    {
        // A run cancelled before it starts returns cancelled, whatever its spec (the caller may be shutting down).
        cancellationToken.ThrowIfCancellationRequested();
        if (spec.Validate() is { Count: > 0 } errors)
            throw new ArgumentException($"invalid fine-tune spec: {string.Join("; ", errors)}", nameof(spec));
        var job = spec.ResolvedJob();
        var h = job.Hyperparameters;
        Directory.CreateDirectory(spec.WorkDirectory);
        var checkpointRoot = Path.Combine(spec.WorkDirectory, CheckpointsFolder);
        var resumeFrom = TrainingCheckpoint.Latest(checkpointRoot);
        int? resumeStep = resumeFrom is null ? null : ReadState(resumeFrom).Step;
        if (cancellationToken.IsCancellationRequested)
            return new FineTuneRunResult(RunOutcome.Cancelled, resumeStep ?? 0, 0, 0, []);

        // ---- tokenizer and data
        var config = ModelConfig.Load(Path.Combine(spec.ModelDirectory, "config.json"));
        using var tokenizer = HfTokenizer.Load(spec.ModelDirectory);
        var maxLength = h.MaxSequenceLength!.Value;
        var usesMessages = job.DatasetReferences().Any(d => spec.Dataset(d.Reference).Format == DatasetFormat.Messages);
        var template = usesMessages ? ChatTemplates.Resolve(h.ChatTemplate, tokenizer.ChatTemplate) : null;
        if (template is not null) observer.OnEvent("info", $"Chat template: {template.Name}");

        var trainingSet = spec.Dataset(job.TrainingDataset!);
        var training = RunData.Build(RunData.ReadRows(trainingSet.Path, trainingSet.Format, 0, cancellationToken),
            tokenizer, template, maxLength, h.TrainOnInputs, cancellationToken);
        ReportData(observer, "Training set", training);
        cancellationToken.ThrowIfCancellationRequested();
        RunPulse.Enter(RunPulse.Loading);
        if (training.Examples.Count == 0)
        {
            observer.OnEvent("warning", "Nothing to train on: the training set holds no example with a scored token");
            return new FineTuneRunResult(RunOutcome.NoSteps, 0, 0, 0, []);
        }

        // ---- model
        var device = spec.Device switch
        {
            DevicePreference.Cpu => CPU,
            DevicePreference.Cuda => cuda.is_available() ? CUDA : throw new InvalidOperationException("device 'cuda' was requested but CUDA is not available"),
            _ => TrainingDevice.Select(preferCuda: true),
        };
        var model = CheckpointLoader.Load(spec.ModelDirectory, device);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            RunPulse.Beat();
            var totalParameters = model.parameters().Sum(p => p.numel());
            observer.OnEvent("info", $"Loaded model {config.Architecture} from {spec.ModelDirectory}: {totalParameters:N0} parameters, " +
                $"{config.NumLayers} layers, on {device.type.ToString().ToLowerInvariant()} in {model.parameters().First().dtype}");

            // LoRA A matrices are initialised from the default generator: seed it so a run is reproducible.
            manual_seed(h.Seed);
            if (job.Lora is { } lora)
            {
                var adapted = LoraModel.Apply(model, new LoraConfig(lora.Rank, lora.Alpha!.Value, lora.TargetModules!, lora.Dropout, lora.UseRsLora));
                observer.OnEvent("info", $"LoRA r={lora.Rank}, alpha={lora.Alpha}, dropout={lora.Dropout}" +
                    $"{(lora.UseRsLora ? ", rsLoRA" : "")} on {adapted.Count} modules ({string.Join(", ", lora.TargetModules!)})");
            }
            else
            {
                FullFineTune.Prepare(model, h.FreezeEmbeddings);
            }
            var trainable = LoraModel.TrainableParameters(model);
            var trainableCount = trainable.Sum(p => p.Parameter.numel());
            observer.OnEvent("info", $"{trainableCount:N0} trainable parameters ({100.0 * trainableCount / Math.Max(1, totalParameters):0.###}% of the base model)");

            RunPulse.Enter(RunPulse.Preparing);
            var evals = PrepareEvals(spec, job, model, tokenizer, template, maxLength, observer, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            var setNames = evals.GroupBy(e => e.Id).ToDictionary(g => g.Key, g => g.First().Name);

            // ---- train
            using var journal = MetricsJournal.Open(spec.WorkDirectory, resumeStep);
            var priorSeconds = resumeStep is { } rs
                ? journal.Records.LastOrDefault(r => r.Step == rs && r.Name == MetricNames.ElapsedSeconds)?.Value ?? 0
                : 0;
            if (resumeFrom is not null)
            {
                observer.OnEvent("info", $"Resuming from step {resumeStep} ({resumeFrom})");
                if (spec.ReplayMetricsFromStep is { } from)
                    foreach (var chunk in journal.Records.Where(r => r.Step >= from).Chunk(2000))
                        observer.OnReplay(chunk);
                if (evals.Count > 0 && !journal.Records.Any(r => r.Step == 0 && r.Name.StartsWith("eval/", StringComparison.Ordinal)))
                    observer.OnEvent("warning", $"The work directory's {MetricsJournal.FileName} has no step-0 evaluation: summary.json will lack baseline comparisons");
            }

            IReadOnlyDictionary<string, double> Evaluate(int step)
            {
                // The resumed sitting's final evaluation may fall on the checkpoint's step, which the journal already holds.
                var known = journal.Records.Where(r => r.Step == step && r.Name.StartsWith("eval/", StringComparison.Ordinal)).ToList();
                if (step == resumeStep && known.Count > 0)
                    return known.GroupBy(r => r.Name).ToDictionary(g => g.Key, g => g.Last().Value);
                var measurements = new List<EvalMeasurement>();
                foreach (var set in evals)
                    foreach (var (metric, value) in set.Run())
                        measurements.Add(new EvalMeasurement(set.Role, set.Id, metric, value));
                journal.Append(step, measurements.Select(m => (MetricNames.Eval(m.Role, m.DatasetId, m.Metric), m.Value)));
                observer.OnEvaluation(step, measurements);
                return measurements.ToDictionary(m => MetricNames.Eval(m.Role, m.DatasetId, m.Metric), m => m.Value);
            }

            void OnStep(TrainingProgress progress)
            {
                var adjusted = progress with { Elapsed = TimeSpan.FromSeconds(priorSeconds) + progress.Elapsed };
                journal.Append(progress.Step,
                [
                    (MetricNames.TrainLoss, progress.Loss),
                    (MetricNames.LearningRate, progress.LearningRate),
                    (MetricNames.GradNorm, progress.GradNorm),
                    (MetricNames.TokensPerSecond, progress.TokensPerSecond),
                    (MetricNames.TokensSeen, progress.TokensSeen),
                    (MetricNames.Epoch, progress.Epoch),
                    (MetricNames.ElapsedSeconds, adjusted.Elapsed.TotalSeconds),
                ]);
                knownTotalSteps(progress.TotalSteps);
                observer.OnStep(adjusted);
            }

            var options = new TrainerOptions(
                MicroBatchSize: h.MicroBatchSize,
                GradientAccumulationSteps: h.GradientAccumulationSteps,
                Epochs: h.Epochs,
                MaxSteps: h.MaxSteps,
                Optimizer: new AdamWOptions(LearningRate: h.LearningRate!.Value, WeightDecay: h.WeightDecay,
                    LoraPlusRatio: job.Lora?.LoraPlusRatio is { } ratio && ratio != 1.0 ? ratio : null),
                Schedule: new ScheduleOptions(h.Schedule, h.WarmupRatio, h.WarmupSteps, h.MinLearningRateRatio),
                MaxGradNorm: h.GradientClip,
                Seed: h.Seed,
                EvalEvery: job.Evaluation.EveryNSteps,
                CheckpointEvery: job.CheckpointEvery,
                CheckpointDirectory: checkpointRoot,
                KeepCheckpoints: job.KeepCheckpoints,
                CheckpointOnCancel: true,
                EvaluateBeforeTraining: true);
            var callbacks = new TrainerCallbacks(
                OnStep: OnStep,
                Evaluate: evals.Count > 0 ? Evaluate : null,
                OnCheckpoint: (step, directory) => observer.OnCheckpoint(step, directory));

            var result = Trainer.Train(model, trainable, training.Examples, options, tokenizer.Special.PaddingId, device,
                callbacks, resumeFrom, cancellationToken);
            var tokensSeen = (long)(journal.Records.Where(r => r.Name == MetricNames.TokensSeen).MaxBy(r => r.Step)?.Value ?? 0);

            if (result.Outcome == TrainingOutcome.Cancelled)
            {
                observer.OnEvent("info", result.LastCheckpoint is { } last
                    ? $"Cancelled after step {result.StepsCompleted}; checkpoint {last}"
                    : $"Cancelled after step {result.StepsCompleted}, before any checkpoint");
                return new FineTuneRunResult(RunOutcome.Cancelled, result.StepsCompleted, result.TotalSteps, tokensSeen, []);
            }
            if (result.StepsCompleted == 0)
                return new FineTuneRunResult(RunOutcome.NoSteps, 0, result.TotalSteps, 0, []);
            if (cancellationToken.IsCancellationRequested)
            {
                // Trained, not exported: the resumed sitting restores the last checkpoint, evaluates if needed, and exports.
                observer.OnEvent("info", $"Cancelled before export after step {result.StepsCompleted}; last checkpoint {result.LastCheckpoint ?? "(none)"}");
                return new FineTuneRunResult(RunOutcome.Cancelled, result.StepsCompleted, result.TotalSteps, tokensSeen, []);
            }

            // ---- export
            RunPulse.Enter(RunPulse.Exporting);
            var files = Export(spec, job, model, journal, setNames, result, tokensSeen);
            observer.OnEvent("info", $"Completed {result.StepsCompleted} steps; wrote {files.Count} files to {spec.OutputDirectory}");
            return new FineTuneRunResult(RunOutcome.Completed, result.StepsCompleted, result.TotalSteps, tokensSeen, files);
        }
        finally
        {
            model.Dispose();
        }
    }

    private static void ReportData(IFineTuneObserver observer, string what, PreparedExamples data)
    {
        observer.OnEvent("info", $"{what}: {data.Rows} rows → {data.Examples.Count} examples, " +
            $"{data.Examples.Sum(e => (long)e.Length):N0} tokens");
        if (data.Truncated > 0)
            observer.OnEvent("warning", $"{what}: {data.Truncated} of {data.Rows} rows were longer than max_sequence_length and were truncated");
        if (data.Dropped > 0)
            observer.OnEvent("warning", $"{what}: {data.Dropped} of {data.Rows} rows were dropped: nothing left to score after truncation");
    }

    private static List<PreparedEval> PrepareEvals(FineTuneRunSpec spec, JobSpec job, CausalLM model, HfTokenizer tokenizer,
        ChatTemplate? template, int maxLength, IFineTuneObserver observer, CancellationToken ct)
    {
        var h = job.Hyperparameters;
        var maxExamples = job.Evaluation.MaxExamples;
        var device = model.parameters().First().device;
        var padId = tokenizer.Special.PaddingId;
        var batch = h.MicroBatchSize;
        var evals = new List<PreparedEval>();

        if (job.ValidationDataset is { } validationReference)
        {
            var validation = spec.Dataset(validationReference);
            var data = RunData.Build(RunData.ReadRows(validation.Path, validation.Format, maxExamples, ct), tokenizer, template, maxLength, h.TrainOnInputs, ct);
            ReportData(observer, "Validation set", data);
            if (data.Examples.Count == 0)
                observer.OnEvent("warning", "Validation set: no example with a scored token; it is not evaluated");
            else
                evals.Add(new PreparedEval(MetricNames.Validation, validation.Id, "validation", () =>
                {
                    var metrics = LossEvaluator.Evaluate(model, data.Examples, batch, padId, device, ct);
                    return new Dictionary<string, double> { ["loss"] = metrics["loss"], ["perplexity"] = metrics["perplexity"] };
                }));
        }

        var sets = job.Evaluation.Target.Select(r => (Reference: r, Role: MetricNames.Target))
            .Concat(job.Evaluation.Source.Select(r => (Reference: r, Role: MetricNames.Source)));
        foreach (var (reference, role) in sets)
        {
            ct.ThrowIfCancellationRequested();
            RunPulse.Beat();
            var set = spec.Dataset(reference);
            var format = set.Format;
            var rows = RunData.ReadRows(set.Path, format, maxExamples, ct);
            var label = $"Eval set '{set.Name}' ({role}, {format.ToWireName()})";
            if (rows.Count == 0)
            {
                observer.OnEvent("warning", $"{label}: no rows; it is not evaluated");
                continue;
            }
            switch (format)
            {
                case DatasetFormat.MultipleChoice:
                {
                    var examples = rows.Cast<MultipleChoiceExample>().ToList();
                    var options = new MultipleChoiceOptions(BatchSize: batch, MaxSequenceLength: model.Config.MaxPositions);
                    observer.OnEvent("info", $"{label}: {examples.Count} questions");
                    evals.Add(new PreparedEval(role, set.Id, set.Name, () => MultipleChoiceEvaluator.Evaluate(model, tokenizer, examples, device, options, ct)));
                    break;
                }
                case DatasetFormat.ExactMatch:
                {
                    var examples = rows.Cast<ExactMatchExample>().ToList();
                    var eos = tokenizer.Special.EosId ?? (model.Config.EosTokenIds.Length > 0 ? model.Config.EosTokenIds[0] : null);
                    var options = new ExactMatchOptions(MaxNewTokens: job.Evaluation.MaxNewTokens);
                    observer.OnEvent("info", $"{label}: {examples.Count} prompts, up to {job.Evaluation.MaxNewTokens} new tokens each");
                    evals.Add(new PreparedEval(role, set.Id, set.Name, () =>
                        ExactMatchEvaluator.Evaluate(tokenizer, examples, (prompt, budget) => model.GenerateGreedy(prompt, budget, eos, ct), options, ct)));
                    break;
                }
                default:
                {
                    var data = RunData.Build(rows, tokenizer, template, maxLength, h.TrainOnInputs, ct);
                    ReportData(observer, label, data);
                    if (data.Examples.Count == 0)
                    {
                        observer.OnEvent("warning", $"{label}: no example with a scored token; it is not evaluated");
                        continue;
                    }
                    evals.Add(new PreparedEval(role, set.Id, set.Name, () => LossEvaluator.Evaluate(model, data.Examples, batch, padId, device, ct)));
                    break;
                }
            }
        }
        return evals;
    }

    private static IReadOnlyList<ProducedFile> Export(FineTuneRunSpec spec, JobSpec job, CausalLM model, MetricsJournal journal,
        IReadOnlyDictionary<Guid, string> setNames, TrainingResult result, long tokensSeen)
    {
        Directory.CreateDirectory(spec.OutputDirectory);
        var staging = Path.Combine(spec.OutputDirectory, $".tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            IReadOnlyList<SpectralEntry> spectral;
            if (job.Method == FineTuneMethod.Lora)
            {
                AdapterExporter.Save(model, Path.Combine(staging, AdapterFolder), spec.BaseModelName);
                RunPulse.Beat();
                if (job.ExportMerged == true)
                    CheckpointExporter.Save(model, Path.Combine(staging, MergedFolder), spec.ModelDirectory);
                RunPulse.Beat();
                spectral = SpectralAnalysis.ForLora(model);
            }
            else
            {
                CheckpointExporter.Save(model, Path.Combine(staging, ModelFolder), spec.ModelDirectory);
                RunPulse.Beat();
                // ΔW = W_ft − W_0 needs the base weights again; keep them off the accelerator.
                using var baseModel = CheckpointLoader.Load(spec.ModelDirectory, CPU);
                spectral = SpectralAnalysis.ForFullFineTune(model, baseModel);
            }
            RunPulse.Beat();
            var method = job.Method == FineTuneMethod.Lora ? "lora" : "full";
            var json = ArtifactJson;
            File.WriteAllText(Path.Combine(staging, SpectralFile), JsonSerializer.Serialize(new SpectralReport(method, spectral), json));
            var metrics = journal.Deduplicated();
            File.WriteAllText(Path.Combine(staging, MetricsFile), string.Concat(metrics.Select(m => MetricsJournal.Line(m) + "\n")));
            var summary = RunSummary.Build(method, metrics, setNames, result.StepsCompleted, result.TotalSteps, tokensSeen, spectral);
            File.WriteAllText(Path.Combine(staging, SummaryFile), JsonSerializer.Serialize(summary, json));

            // Publish: each top-level entry appears complete or not at all.
            var produced = new List<ProducedFile>();
            foreach (var entry in Directory.EnumerateFileSystemEntries(staging).Order(StringComparer.Ordinal).ToList())
            {
                var name = Path.GetFileName(entry);
                var target = Path.Combine(spec.OutputDirectory, name);
                if (Directory.Exists(entry))
                {
                    if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                    Directory.Move(entry, target);
                    produced.AddRange(Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                        .Select(f => Describe(Path.GetRelativePath(spec.OutputDirectory, f).Replace('\\', '/'))));
                }
                else
                {
                    File.Move(entry, target, overwrite: true);
                    produced.Add(Describe(name));
                }
            }
            return produced;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>The artifact kind and content type of a file under the output directory.</summary>
    public static ProducedFile Describe(string relativePath)
    {
        var folder = relativePath.Contains('/') ? relativePath[..relativePath.IndexOf('/')] : "";
        var file = Path.GetFileName(relativePath);
        var kind = (folder, file) switch
        {
            (AdapterFolder, AdapterExporter.ConfigFile) => "adapter_config",
            (AdapterFolder, _) => "adapter",
            (MergedFolder, _) => "merged_model",
            (ModelFolder, _) => "model",
            (_, SpectralFile) => "spectral",
            (_, MetricsFile) => "metrics",
            (_, SummaryFile) => "summary",
            _ => "other",
        };
        var contentType = Path.GetExtension(file) switch
        {
            ".json" => "application/json",
            ".jsonl" => "application/x-ndjson",
            ".txt" => "text/plain",
            _ => "application/octet-stream",
        };
        return new ProducedFile(kind, relativePath, contentType);
    }

    private static TrainerState ReadState(string checkpoint) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, TrainingCheckpoint.StateFile)))
            ?? throw new InvalidDataException($"{checkpoint}: empty {TrainingCheckpoint.StateFile}");
}

/// <summary><c>spectral.json</c>: ΔW singular values per adapted (LoRA) or fine-tuned (full) projection, and means per module name.</summary>
public sealed record SpectralReport(string Method, IReadOnlyList<SpectralEntry> Entries)
{
    public IReadOnlyList<SpectralModuleSummary> Modules => Entries.GroupBy(e => e.Module).OrderBy(g => g.Key, StringComparer.Ordinal)
        .Select(g => new SpectralModuleSummary(g.Key, g.Count(), g.Average(e => e.Rank90), g.Average(e => e.FrobeniusNorm)))
        .ToList();
}
