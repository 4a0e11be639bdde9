using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Tokenization.Examples;

namespace LoraService.Tokenization.Planning;

/// <summary>What a job would do, found without a model: the engine's data preparation and step count, run ahead.</summary>
/// <param name="Datasets">One entry per dataset reference, in <see cref="JobSpec.DatasetReferences"/> order.</param>
/// <param name="OptimizerSteps">The steps the trainer will run; 0 when the training set holds no example with a scored token.</param>
/// <param name="ChatTemplate">The template messages rows are rendered with; null when no set is in the messages format.</param>
public sealed record RunPlan(IReadOnlyList<DatasetPlan> Datasets, int OptimizerSteps, string? ChatTemplate)
{
    public DatasetPlan? Training => Datasets.SingleOrDefault(d => d.Use == DatasetUse.Training);

    /// <param name="tokenizerDirectory">A Hugging Face checkpoint folder with tokenizer.json (and tokenizer_config.json).</param>
    /// <param name="job">A resolved job (<see cref="JobSpecResolver"/>): max_sequence_length is set.</param>
    /// <param name="datasets">The file behind each of the job's dataset references.</param>
    /// <exception cref="UnknownChatTemplateException">A messages set and no chat template the engine can render.</exception>
    public static RunPlan For(string tokenizerDirectory, JobSpec job, IReadOnlyDictionary<string, DatasetFile> datasets,
        CancellationToken cancellationToken = default)
    {
        var h = job.Hyperparameters;
        var maxLength = h.MaxSequenceLength ?? throw new ArgumentException("the job is not resolved: max_sequence_length is null", nameof(job));
        using var tokenizer = HfTokenizer.Load(tokenizerDirectory);
        var usesMessages = job.DatasetReferences().Any(d => datasets[d.Reference].Format == DatasetFormat.Messages);
        var template = usesMessages ? ChatTemplates.Resolve(h.ChatTemplate, tokenizer.ChatTemplate, tokenizer.SpecialTokenTexts) : null;

        DatasetPlan Plan(string field, string reference, DatasetUse use)
        {
            var file = datasets[reference];
            var limit = use == DatasetUse.Training ? 0 : job.Evaluation.MaxExamples;
            var rows = ExamplePreparation.ReadRows(file.Path, file.Format, limit, cancellationToken: cancellationToken);
            if (file.Format is DatasetFormat.MultipleChoice or DatasetFormat.ExactMatch)
                return new DatasetPlan(field, reference, use, file.Format, rows.Count, rows.Count, null, null, 0, 0);
            var data = ExamplePreparation.Build(rows, tokenizer, template, maxLength, h.TrainOnInputs, cancellationToken: cancellationToken);
            return new DatasetPlan(field, reference, use, file.Format, data.Rows, data.Examples.Count,
                data.Examples.Sum(e => (long)e.Length), data.Examples.Sum(e => (long)ExampleBuilder.ScoredTokens(e)), data.Truncated, data.Dropped);
        }

        var plans = job.DatasetReferences().Select(d => Plan(d.Field, d.Reference, d.Use)).ToList();
        var examples = plans.SingleOrDefault(p => p.Use == DatasetUse.Training)?.Examples ?? 0;
        var steps = examples == 0 ? 0 : TrainingSteps.Total(examples, h.MicroBatchSize, h.GradientAccumulationSteps, h.Epochs, h.MaxSteps);
        return new RunPlan(plans, steps, template?.Name);
    }
}
