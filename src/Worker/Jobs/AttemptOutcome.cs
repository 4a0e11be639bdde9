using LoraService.Contracts.Attempts;

namespace LoraService.Worker.Jobs;

/// <summary>Why the worker stopped an attempt itself (none when the child ended on its own).</summary>
internal enum StopReason { None, Cancel, Shutdown, Hung, LeaseLost, WallTime }

/// <summary>How one attempt ended, from the child's last message, its exit and what the worker did to it.</summary>
/// <param name="Code">
/// completed, cancelled, no_steps (the child said so); invalid_input, base_model_changed, training_failed, out_of_memory,
/// disk_full (the child caught an error; disk_full fails the job, its checkpoints intact for a retry once space is freed); crashed (died without a word: signal or exit code), out_of_memory (killed while the cgroup
/// recorded an OOM kill), hung (killed by the worker for silence); handed_back (stopped for a worker shutdown);
/// max_wall_time (stopped at the job's max_wall_time).
/// </param>
internal sealed record AttemptOutcome(string Code, string Detail, AttemptResult? Result)
{
    /// <summary>Ends that say nothing about the job itself: the attempt is resumed elsewhere (up to the job's max_attempts).</summary>
    public bool IsAbnormal => Code is "crashed" or "out_of_memory" or "hung";

    public static AttemptOutcome Classify(AttemptResult? result, AttemptError? error, int exitCode, StopReason stop, bool oomKilled, string stderrTail)
    {
        if (result is not null)
        {
            var steps = $"{result.StepsCompleted}/{result.TotalSteps} steps";
            return (result.Outcome, stop) switch
            {
                ("cancelled", StopReason.Shutdown) => new("handed_back", $"stopped for a worker shutdown after {steps}", result),
                ("cancelled", StopReason.WallTime) => new("max_wall_time", $"stopped at the job's max_wall_time after {steps}", result),
                _ => new(result.Outcome, steps, result),
            };
        }
        if (stop == StopReason.Hung) return new("hung", "the attempt wrote nothing for too long and was killed", null);
        if (error is not null) return new(error.Code, error.Message, null);
        if (stop == StopReason.Shutdown) return new("handed_back", "the graceful-stop budget ran out during a worker shutdown; the attempt was killed", null);
        if (stop == StopReason.WallTime) return new("max_wall_time", "stopped at the job's max_wall_time; the graceful-stop budget ran out and the attempt was killed", null);
        var tail = string.IsNullOrWhiteSpace(stderrTail) ? "" : $"; last output: {Last(stderrTail, 600)}";
        if (exitCode > 128 && exitCode < 128 + 65)
        {
            var signal = exitCode - 128;
            return oomKilled && signal == 9
                ? new("out_of_memory", $"the attempt was killed by the kernel's out-of-memory killer (SIGKILL){tail}", null)
                : new("crashed", $"the attempt died of signal {signal} ({SignalName(signal)}){tail}", null);
        }
        return new("crashed", $"the attempt exited with code {exitCode} without a result{tail}", null);
    }

    private static string Last(string text, int length) => text.Length <= length ? text : "…" + text[^length..];

    private static string SignalName(int signal) => signal switch
    {
        4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL", 11 => "SIGSEGV", 15 => "SIGTERM",
        _ => "signal " + signal,
    };
}

/// <summary>The out-of-memory kill counter of this process's cgroup (v2 memory.events), where there is one.</summary>
internal static class OomKills
{
    public static long Count()
    {
        try
        {
            var cgroup = File.ReadAllLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
            if (cgroup is null) return 0;
            var events = Path.Combine("/sys/fs/cgroup", cgroup.TrimStart('/'), "memory.events");
            if (!File.Exists(events)) return 0;
            var line = File.ReadLines(events).FirstOrDefault(l => l.StartsWith("oom_kill ", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line["oom_kill ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }
}
