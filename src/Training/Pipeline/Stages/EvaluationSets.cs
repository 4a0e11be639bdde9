using LoraService.Contracts;
using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Training.Evaluation;
using LoraService.Training.Models;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>One evaluation set ready to run: its role (target, source, validation), id, name and how to measure it.</summary>
internal sealed record EvalSet(string Role, Guid Id, string Name, Func<SetEvaluation> Measure);

/// <summary>Every set's metrics at one evaluation, and the samples of the sets that record them.</summary>
internal sealed record EvaluationRound(IReadOnlyList<EvalMeasurement> Measurements, IReadOnlyList<EvalSamples> Samples);

/// <summary>
/// The run's evaluation sets in their four formats: the validation set (loss, perplexity), and target / source sets of
/// multiple choice (acc, acc_norm), exact match (greedy generation) or a training format (loss, perplexity).
/// A set with nothing to score is reported and left out. Generation and scoring run in batches within the job's
/// <c>evaluation.batch_size</c> and <c>batch_tokens</c>; exact-match and multiple-choice sets record
/// <c>evaluation.samples</c> samples each (loss-only sets have no output to show, so none).
/// </summary>
internal sealed class EvaluationSets(IReadOnlyList<EvalSet> sets)
{
    public bool Any => sets.Count > 0;

    /// <summary>Each set's name by id, for summary.json.</summary>
    public IReadOnlyDictionary<Guid, string> Names => sets.GroupBy(e => e.Id).ToDictionary(g => g.Key, g => g.First().Name);

    public EvaluationRound Measure()
    {
        var measurements = new List<EvalMeasurement>();
        var samples = new List<EvalSamples>();
        foreach (var set in sets)
        {
            var result = set.Measure();
            measurements.AddRange(result.Metrics.Select(m => new EvalMeasurement(set.Role, set.Id, m.Key, m.Value)));
            if (result.Samples.Count > 0)
                samples.Add(new EvalSamples(set.Role, set.Id, set.Name, result.Samples));
        }
        return new EvaluationRound(measurements, samples);
    }

    private static BatchLimits Limits(RunContext run) => new(run.Job.Evaluation.BatchSize, run.Job.Evaluation.BatchTokens);

    public static EvaluationSets Prepare(RunContext run, CausalLM model, PreparedData data)
    {
        RunPulse.Enter(RunPulse.Preparing);
        var job = run.Job;
        var sets = new List<EvalSet>();
        if (job.ValidationDataset is { } validation && Validation(run, model, data, run.Spec.Dataset(validation)) is { } validationSet)
            sets.Add(validationSet);
        var scored = job.Evaluation.Target.Select(r => (Reference: r, Role: MetricNames.Target))
            .Concat(job.Evaluation.Source.Select(r => (Reference: r, Role: MetricNames.Source)));
        foreach (var (reference, role) in scored)
        {
            run.Cancellation.ThrowIfCancellationRequested();
            RunPulse.Beat();
            if (Scored(run, model, data, run.Spec.Dataset(reference), role) is { } set)
                sets.Add(set);
        }
        run.Cancellation.ThrowIfCancellationRequested();
        return new EvaluationSets(sets);
    }

    private static EvalSet? Validation(RunContext run, CausalLM model, PreparedData data, RunDataset set)
    {
        var examples = Tokenized(run, data, RunData.ReadRows(set.Path, set.Format, run.Job.Evaluation.MaxExamples, run.Cancellation), "Validation set");
        if (examples.Count == 0)
        {
            run.Warn("Validation set: no example with a scored token; it is not evaluated");
            return null;
        }
        var loss = Loss(run, model, data, examples);
        return new EvalSet(MetricNames.Validation, set.Id, "validation", () =>
        {
            var metrics = loss().Metrics;
            return SetEvaluation.MetricsOnly(new Dictionary<string, double> { ["loss"] = metrics["loss"], ["perplexity"] = metrics["perplexity"] });
        });
    }

    private static EvalSet? Scored(RunContext run, CausalLM model, PreparedData data, RunDataset set, string role)
    {
        var (job, ct) = (run.Job, run.Cancellation);
        var rows = RunData.ReadRows(set.Path, set.Format, job.Evaluation.MaxExamples, ct);
        var label = $"Eval set '{set.Name}' ({role}, {set.Format.ToWireName()})";
        if (rows.Count == 0)
        {
            run.Warn($"{label}: no rows; it is not evaluated");
            return null;
        }
        var device = model.parameters().First().device;
        switch (set.Format)
        {
            case DatasetFormat.MultipleChoice:
            {
                var questions = rows.Cast<MultipleChoiceExample>().ToList();
                var options = new MultipleChoiceOptions(MaxSequenceLength: model.Config.MaxPositions, Batches: Limits(run), Samples: job.Evaluation.Samples);
                run.Info($"{label}: {questions.Count} questions");
                return new EvalSet(role, set.Id, set.Name, () => MultipleChoiceEvaluator.Evaluate(model, data.Tokenizer, questions, device, options, ct));
            }
            case DatasetFormat.ExactMatch:
            {
                var prompts = rows.Cast<ExactMatchExample>().ToList();
                var eos = data.Tokenizer.Special.EosId ?? (model.Config.EosTokenIds.Length > 0 ? model.Config.EosTokenIds[0] : null);
                var options = new ExactMatchOptions(MaxNewTokens: job.Evaluation.MaxNewTokens, Samples: job.Evaluation.Samples);
                var limits = Limits(run);
                run.Info($"{label}: {prompts.Count} prompts, up to {job.Evaluation.MaxNewTokens} new tokens each");
                return new EvalSet(role, set.Id, set.Name, () =>
                    ExactMatchEvaluator.Evaluate(data.Tokenizer, prompts, (batch, budget) => BatchedGreedy.Generate(model, batch, budget, eos, limits, ct), options, ct));
            }
            default:
            {
                var examples = Tokenized(run, data, rows, label);
                if (examples.Count == 0)
                {
                    run.Warn($"{label}: no example with a scored token; it is not evaluated");
                    return null;
                }
                return new EvalSet(role, set.Id, set.Name, Loss(run, model, data, examples));
            }
        }
    }

    private static IReadOnlyList<TokenizedExample> Tokenized(RunContext run, PreparedData data, IReadOnlyList<DatasetExample> rows, string label)
    {
        var h = run.Job.Hyperparameters;
        var prepared = RunData.Build(rows, data.Tokenizer, data.Template, data.MaxLength, h.TrainOnInputs, run.Cancellation);
        DataStage.Report(run, label, prepared);
        return prepared.Examples;
    }

    private static Func<SetEvaluation> Loss(RunContext run, CausalLM model, PreparedData data, IReadOnlyList<TokenizedExample> examples)
    {
        var device = model.parameters().First().device;
        var limits = Limits(run);
        return () => SetEvaluation.MetricsOnly(LossEvaluator.Evaluate(model, examples, limits, data.Tokenizer.Special.PaddingId, device, run.Cancellation));
    }
}
