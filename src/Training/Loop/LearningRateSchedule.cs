using LoraService.Contracts.Jobs;
namespace LoraService.Training.Loop;


/// <param name="WarmupSteps">Explicit warmup steps; wins over <paramref name="WarmupRatio"/>.</param>
/// <param name="WarmupRatio">Warmup as a fraction of total steps, rounded up (as Hugging Face does).</param>
/// <param name="MinLearningRateRatio">Floor of the decay as a fraction of the peak rate.</param>
public sealed record ScheduleOptions(
    ScheduleKind Kind = ScheduleKind.Linear,
    double WarmupRatio = 0,
    int? WarmupSteps = null,
    double MinLearningRateRatio = 0);

/// <summary>
/// The multiplier applied to each parameter group's peak learning rate at a given optimizer step,
/// with Hugging Face's conventions: step k (0-based) uses factor(k), so warmup starts at 0;
/// warmup rises as k/w; after it, progress p = (k − w)/(total − w) and
/// linear = m + (1 − m)(1 − p), cosine = m + (1 − m)·½(1 + cos πp), constant = 1.
/// </summary>
public sealed class LearningRateSchedule
{
    private readonly ScheduleOptions _options;

    public LearningRateSchedule(ScheduleOptions options, int totalSteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        if (options.MinLearningRateRatio is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(options), "MinLearningRateRatio must be in [0, 1]");
        _options = options;
        TotalSteps = totalSteps;
        WarmupSteps = options.WarmupSteps ?? (int)Math.Ceiling(options.WarmupRatio * totalSteps);
    }

    public int TotalSteps { get; }
    public int WarmupSteps { get; }

    public double Factor(int step)
    {
        if (step < WarmupSteps)
            return (double)step / Math.Max(1, WarmupSteps);
        if (_options.Kind == ScheduleKind.Constant)
            return 1.0;
        var progress = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps));
        var decay = _options.Kind == ScheduleKind.Linear
            ? 1.0 - progress
            : 0.5 * (1.0 + Math.Cos(Math.PI * progress));
        var floor = _options.MinLearningRateRatio;
        return floor + (1.0 - floor) * decay;
    }
}
