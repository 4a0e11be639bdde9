namespace LoraService.Training.Pipeline;

/// <summary>
/// Process-wide liveness counter: the engine bumps it where it makes progress (every training micro-batch, every
/// evaluation batch or example, every generated token, every checkpoint and export stage) and records the phase it is
/// in. A watchdog (the CLI's <c>attempt</c> verb) reads it: a counter that stops moving means a hang, not a slow phase.
/// </summary>
public static class RunPulse
{
    public const string Preparing = "preparing";
    public const string Loading = "loading";
    public const string Evaluating = "evaluating";
    public const string Training = "training";
    public const string Checkpointing = "checkpointing";
    public const string Exporting = "exporting";

    private static long _beats;
    private static volatile string _phase = Preparing;
    private static long _enteredAt = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>How many times the engine reported progress since the process started.</summary>
    public static long Beats => Interlocked.Read(ref _beats);

    /// <summary>The phase of the latest <see cref="Enter"/>: preparing, loading, evaluating, training, checkpointing or exporting.</summary>
    public static string Phase => _phase;

    /// <summary>Time since the latest <see cref="Enter"/> (e.g. how long the evaluation that just ended took).</summary>
    public static TimeSpan InPhase => System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _enteredAt));

    public static void Beat() => Interlocked.Increment(ref _beats);

    /// <summary>Enters a phase (counts as progress).</summary>
    public static void Enter(string phase)
    {
        Interlocked.Exchange(ref _enteredAt, System.Diagnostics.Stopwatch.GetTimestamp());
        _phase = phase;
        Beat();
    }
}
