namespace LoraService.Contracts.Jobs;

/// <summary>
/// Fills in the defaults of a valid spec that depend on the method or the model, and writes dataset references in
/// their canonical form. Resolving a resolved spec changes nothing.
/// </summary>
public static class JobSpecResolver
{
    public static JobSpec Resolve(JobSpec spec, JobSpecContext context, int defaultMaxAttempts = JobDefaults.MaxAttempts)
    {
        var model = context.Model ?? throw new ArgumentException("resolving a spec needs its model", nameof(context));
        string Canonical(string reference) => context.FindDataset(reference)?.Reference ?? reference;
        var lora = spec.Method == FineTuneMethod.Lora ? spec.Lora ?? new LoraSettings() : null;
        return spec with
        {
            TrainingDataset = spec.TrainingDataset is { } t ? Canonical(t) : null,
            ValidationDataset = spec.ValidationDataset is { } v ? Canonical(v) : null,
            Evaluation = spec.Evaluation with
            {
                Target = [.. spec.Evaluation.Target.Select(Canonical)],
                Source = [.. spec.Evaluation.Source.Select(Canonical)],
            },
            Lora = lora is null ? null : lora with
            {
                Alpha = lora.Alpha ?? JobDefaults.LoraAlpha(lora.Rank),
                TargetModules = lora.TargetModules is null || lora.TargetModules.Contains(LoraSettings.AllLinear)
                    ? model.LoraTargets
                    : lora.TargetModules,
            },
            Hyperparameters = spec.Hyperparameters with
            {
                LearningRate = spec.Hyperparameters.LearningRate ?? JobDefaults.LearningRate(spec.Method),
                MaxSequenceLength = spec.Hyperparameters.MaxSequenceLength ?? Math.Min(JobDefaults.MaxSequenceLength, model.MaxPositions),
            },
            ExportMerged = spec.Method == FineTuneMethod.Lora && (spec.ExportMerged ?? model.Parameters < JobDefaults.ExportMergedBelowParameters),
            MaxAttempts = spec.MaxAttempts ?? defaultMaxAttempts,
            // A budget is judged at evaluations: each one needs a checkpoint to export from; select keeps them all to the end.
            CheckpointEvery = spec.ForgettingBudget is null ? spec.CheckpointEvery : spec.Evaluation.EveryNSteps,
            KeepCheckpoints = spec.ForgettingBudget switch
            {
                null => spec.KeepCheckpoints,
                { Action: BudgetAction.Select } => 0,
                _ => spec.KeepCheckpoints == 0 ? 0 : Math.Max(spec.KeepCheckpoints, 2),
            },
        };
    }

    /// <summary>Validates, then resolves: the resolved spec, or the field errors.</summary>
    public static (JobSpec? Spec, IReadOnlyDictionary<string, string[]> Errors) Check(JobSpec spec, JobSpecContext context, int defaultMaxAttempts = JobDefaults.MaxAttempts)
    {
        var errors = JobSpecValidator.Validate(spec, context);
        return errors.Count > 0 ? (null, errors) : (Resolve(spec, context, defaultMaxAttempts), errors);
    }
}
