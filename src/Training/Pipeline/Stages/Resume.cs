using LoraService.Contracts;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>What a resumed sitting takes over from the journal: the announcement, the replay its caller asked for, and the time already trained.</summary>
internal static class Resume
{
    public static void Announce(RunContext run, MetricsJournal journal, ResumePoint resume, EvaluationSets evals)
    {
        if (!resume.IsResume) return;
        run.Info($"Resuming from step {resume.Step} ({resume.Checkpoint})");
        if (run.Spec.ReplayMetricsFromStep is { } from)
            foreach (var chunk in journal.Records.Where(r => r.Step >= from).Chunk(2000))
                run.Observer.OnReplay(chunk);
        if (evals.Any && !journal.Records.Any(r => r.Step == 0 && r.Name.StartsWith("eval/", StringComparison.Ordinal)))
            run.Warn($"The work directory's {MetricsJournal.FileName} has no step-0 evaluation: summary.json will lack baseline comparisons");
    }

    /// <summary>Training seconds of the sittings before this one, so elapsed time counts across resumes.</summary>
    public static double PriorSeconds(MetricsJournal journal, ResumePoint resume) =>
        resume.Step is { } step
            ? journal.Records.LastOrDefault(r => r.Step == step && r.Name == MetricNames.ElapsedSeconds)?.Value ?? 0
            : 0;
}
