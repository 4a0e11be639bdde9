using LoraService.Datasets;
using LoraService.Tokenization;
using LoraService.Tokenization.Examples;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>The model's tokenizer, the chat template (when a dataset holds messages) and the tokenized training set.</summary>
internal sealed record PreparedData(HfTokenizer Tokenizer, ChatTemplate? Template, int MaxLength, PreparedExamples Training) : IDisposable
{
    public void Dispose() => Tokenizer.Dispose();
}

/// <summary>Prepare data: load the tokenizer, pick the chat template, read and tokenize the training set.</summary>
internal static class DataStage
{
    public static PreparedData Prepare(RunContext run)
    {
        var (spec, job, ct) = (run.Spec, run.Job, run.Cancellation);
        var h = job.Hyperparameters;
        var tokenizer = HfTokenizer.Load(spec.ModelDirectory);
        try
        {
            var usesMessages = job.DatasetReferences().Any(d => spec.Dataset(d.Reference).Format == DatasetFormat.Messages);
            var template = usesMessages ? ChatTemplates.Resolve(h.ChatTemplate, tokenizer.ChatTemplate, tokenizer.SpecialTokenTexts) : null;
            if (template is not null) run.Info($"Chat template: {template.Name}");

            var maxLength = h.MaxSequenceLength!.Value;
            var file = spec.Dataset(job.TrainingDataset!);
            var training = RunData.Build(RunData.ReadRows(file.Path, file.Format, 0, ct), tokenizer, template, maxLength, h.TrainOnInputs, ct);
            Report(run, "Training set", training);
            if (template is ModelChatTemplate { LastTurnOnly: > 0 } model)
                run.Warn($"Training set: in {model.LastTurnOnly} conversations the model's chat template rewrites earlier turns " +
                    "(e.g. drops past <think> blocks), so only their last assistant turn is trained");
            ct.ThrowIfCancellationRequested();
            return new PreparedData(tokenizer, template, maxLength, training);
        }
        catch
        {
            tokenizer.Dispose();
            throw;
        }
    }

    /// <summary>The result of a training set with no example to learn from: no steps, nothing exported.</summary>
    public static FineTuneRunResult NothingToTrain(RunContext run)
    {
        run.Warn("Nothing to train on: the training set holds no example with a scored token");
        return new FineTuneRunResult(RunOutcome.NoSteps, 0, 0, 0, []);
    }

    /// <summary>Rows, examples and tokens of a tokenized set, and warnings for what truncation cost.</summary>
    public static void Report(RunContext run, string what, PreparedExamples data)
    {
        run.Info($"{what}: {data.Rows} rows → {data.Examples.Count} examples, {data.Examples.Sum(e => (long)e.Length):N0} tokens");
        if (data.Truncated > 0)
            run.Warn($"{what}: {data.Truncated} of {data.Rows} rows were longer than max_sequence_length and were truncated");
        if (data.Dropped > 0)
            run.Warn($"{what}: {data.Dropped} of {data.Rows} rows were dropped: nothing left to score after truncation");
    }
}
