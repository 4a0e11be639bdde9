using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using LoraService.Contracts.Attempts;
using LoraService.Training.Pipeline;
using LoraService.Training.Pipeline.Provenance;
using LoraService.Training.Loop;
using Microsoft.Win32.SafeHandles;

namespace LoraService.Cli;

/// <summary>
/// Hidden verb <c>attempt SPEC.json</c>: one attempt of a job, run by a worker as a child process and driven over
/// <see cref="AttemptProtocol"/>.
/// </summary>
/// <remarks>
/// <para>Stdout carries protocol messages only, one JSON line each, flushed per line. The real stdout is moved to a
/// private descriptor at start-up and descriptor 1 is pointed at stderr, so nothing else (Console.Out, libtorch's own
/// prints) can corrupt the pipe. Logs go to stderr.</para>
/// <para>Messages: <c>started</c> (after the spec was read and validated), then what the run reports (<c>event</c>,
/// <c>evaluation</c>, <c>step</c>, <c>checkpoint</c>), <c>alive</c> (phase: preparing, loading, evaluating, training,
/// checkpointing, exporting) when a second has passed since the previous line and the engine made progress
/// (<see cref="RunPulse"/>) since that line, and last either <c>result</c> or <c>error</c>. A hang is therefore silence.</para>
/// <para>Stdin: <c>stop</c> cancels (stop after the current step or evaluation batch, checkpoint, report
/// <c>cancelled</c>); SIGTERM and SIGINT do the same; EOF means the worker died and the process exits at once with
/// <see cref="ExitStdinClosed"/>.</para>
/// <para>Exit codes: 0 = a <c>result</c> line was written (completed, cancelled or no_steps); 1 = an <c>error</c> line
/// was written; 2 = usage error (no spec argument); 75 = stdin closed; a failpoint's own code or signal otherwise.</para>
/// </remarks>
static class Attempt
{
    public const string Verb = "attempt";

    /// <summary>0: the run ended by itself and its <see cref="AttemptResult"/> is the last line.</summary>
    public const int ExitResult = 0;
    /// <summary>1: the run failed and its <see cref="AttemptError"/> is the last line.</summary>
    public const int ExitError = 1;
    /// <summary>75 (EX_TEMPFAIL): stdin reached EOF before the run ended: the worker is gone, so the child stops writing at once.</summary>
    public const int ExitStdinClosed = 75;

    public const string OutOfMemory = "out_of_memory";
    public const string InvalidInput = "invalid_input";
    public const string TrainingFailed = "training_failed";

    static readonly TimeSpan AliveInterval = TimeSpan.FromSeconds(1);

    public static int Run(Args a, string specPath)
    {
        a.EnsureAllUsed();
        using var pipe = ProtocolWriter.TakeOverStdout();
        var failpoint = Failpoint.FromEnvironment();

        FineTuneRunSpec spec;
        try
        {
            spec = FineTuneRunSpec.Load(specPath);
            if (spec.Validate() is { Count: > 0 } errors)
                throw new ArgumentException($"{specPath}: invalid fine-tune spec: {string.Join("; ", errors)}");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[error] cannot read spec {specPath}: {e}");
            pipe.Write(new AttemptError(Classify(e), $"{specPath}: {e.Message}"));
            return ExitError;
        }

        using var cancel = new CancellationTokenSource();
        var finishing = 0; // set before the last line: a worker that closes stdin after reading it is not a dead worker
        void Stop(string why)
        {
            if (cancel.IsCancellationRequested) return;
            Console.Error.WriteLine($"[info] {why}: stopping after the current step");
            try { cancel.Cancel(); } catch (ObjectDisposedException) { }
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Stop("SIGTERM"); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Stop("SIGINT"); });

        var stdin = new Thread(() =>
        {
            using var reader = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
            while (reader.ReadLine() is { } line)
            {
                if (line.Trim() == AttemptProtocol.StopCommand) Stop("stop command");
                else if (line.Trim().Length > 0) Console.Error.WriteLine($"[warning] unknown command on stdin: {line}");
            }
            if (Volatile.Read(ref finishing) != 0) return;
            Console.Error.WriteLine($"[error] stdin closed: the worker is gone; exiting with {ExitStdinClosed}");
            Console.Error.Flush();
            Native.Exit(ExitStdinClosed);
        }) { IsBackground = true, Name = "attempt-stdin" };

        pipe.Write(new AttemptStarted(Environment.ProcessId));
        stdin.Start();

        var watchdog = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(AliveInterval / 4);
                if (Volatile.Read(ref finishing) != 0) return;
                var (since, beatsThen) = pipe.LastWrite;
                if (since >= AliveInterval && RunPulse.Beats != beatsThen)
                    pipe.Write(new AttemptAlive(RunPulse.Phase));
            }
        }) { IsBackground = true, Name = "attempt-watchdog" };
        watchdog.Start();

        var observer = new ReplayingCallbacks(
            records => pipe.Write(new AttemptMetrics(records.Select(r => new AttemptMetric(r.Name, r.Step, r.Value)).ToList())),
            onStep: p =>
            {
                pipe.Write(new AttemptStep(p.Step, p.TotalSteps, p.Loss, p.LearningRate, p.GradNorm, p.TokensPerSecond,
                    p.TokensSeen, p.Epoch, p.Elapsed.TotalSeconds, p.Eta.TotalSeconds));
                failpoint?.AfterStep(p.Step);
            },
            onEvaluation: (step, measurements) => pipe.Write(new AttemptEvaluation(step,
                measurements.Select(m => new AttemptMeasurement(m.Role, m.DatasetId, m.Metric, m.Value)).ToList(),
                RunPulse.Phase == RunPulse.Evaluating ? RunPulse.InPhase.TotalSeconds : null)),
            onSamples: (step, sets) => pipe.Write(new AttemptSamples(step, sets.Select(set => new AttemptSetSamples(set.Role, set.DatasetId, set.Name,
                set.Samples.Select(x => new AttemptSample(x.Prompt, x.Output, x.Expected, x.Correct)).ToList())).ToList())),
            onCheckpoint: (step, directory) => pipe.Write(new AttemptCheckpoint(step, directory)),
            onEvent: (level, message, type, step) =>
            {
                Console.Error.WriteLine($"[{level}] {message}");
                pipe.Write(new AttemptEvent(level, message, type, step));
            });

        try
        {
            var result = FineTuneRun.Execute(spec, observer, cancel.Token);
            Volatile.Write(ref finishing, 1);
            pipe.Write(new AttemptResult(OutcomeName(result.Outcome), result.StepsCompleted, result.TotalSteps, result.TokensSeen,
                result.Files.Select(f => new AttemptFile(f.Kind, f.RelativePath, f.ContentType)).ToList()));
            return ExitResult;
        }
        catch (Exception e)
        {
            Volatile.Write(ref finishing, 1);
            var code = Classify(e);
            Console.Error.WriteLine($"[error] {code}: {e}");
            pipe.Write(new AttemptError(code, Summary(e)));
            return ExitError;
        }
    }

    /// <summary>The exception's message without libtorch's native stack ("frame #0: …"), which goes to stderr only.</summary>
    public static string Summary(Exception e)
    {
        var message = e.Message;
        var frames = message.IndexOf("\nframe #", StringComparison.Ordinal);
        return (frames >= 0 ? message[..frames] : message).Trim();
    }

    public static string OutcomeName(RunOutcome outcome) => outcome switch
    {
        RunOutcome.Completed => "completed",
        RunOutcome.Cancelled => "cancelled",
        RunOutcome.NoSteps => "no_steps",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
    };

    static readonly string[] OutOfMemoryMarkers =
        ["out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory", "failed to allocate", "defaultcpuallocator"];

    /// <summary>
    /// <c>out_of_memory</c> for <see cref="OutOfMemoryException"/> and libtorch/CUDA allocation failures (recognised by
    /// their message anywhere in the exception chain), <c>invalid_input</c> for what the engine refuses as input (argument,
    /// data-format, JSON, missing file or folder), <c>disk_full</c> when a write found no space (ENOSPC, EDQUOT), the refusal's own code for a run the engine refuses for a reason of the job's
    /// own (<c>base_model_changed</c>, <c>forgetting_budget</c>), else <c>training_failed</c>.
    /// </summary>
    public static string Classify(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is OutOfMemoryException) return OutOfMemory;
            var message = x.Message.ToLowerInvariant();
            if (OutOfMemoryMarkers.Any(message.Contains)) return OutOfMemory;
        }
        if (DiskFullException.IsDiskFull(e)) return DiskFullException.Code;
        for (var x = e; x is not null; x = x.InnerException)
            if (x is RunRefusedException refused)
                return refused.Code;
        for (var x = e; x is not null; x = x.InnerException)
            if (x is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
                or JsonException or FormatException or Training.Checkpoints.SafetensorsFormatException)
                return InvalidInput;
        return TrainingFailed;
    }

    /// <summary>Protocol lines on the process's original stdout, under a lock, one flush per line.</summary>
    /// <summary>The delegate observer plus the journal replay a resumed attempt sends to its worker.</summary>
    sealed class ReplayingCallbacks(
        Action<IReadOnlyList<MetricRecord>> onReplay,
        Action<TrainingProgress> onStep,
        Action<int, IReadOnlyList<EvalMeasurement>> onEvaluation,
        Action<int, IReadOnlyList<EvalSamples>> onSamples,
        Action<int, string> onCheckpoint,
        Action<string, string, string?, int?> onEvent) : IFineTuneObserver
    {
        public void OnSamples(int step, IReadOnlyList<EvalSamples> samples) => onSamples(step, samples);
        public void OnStep(TrainingProgress progress) => onStep(progress);
        public void OnEvaluation(int step, IReadOnlyList<EvalMeasurement> measurements) => onEvaluation(step, measurements);
        public void OnCheckpoint(int step, string directory) => onCheckpoint(step, directory);
        public void OnEvent(string level, string message) => onEvent(level, message, null, null);
        public void OnForgettingBudgetExceeded(int step, string message) => onEvent("warning", message, AttemptEventTypes.ForgettingBudgetExceeded, step);
        public void OnReplay(IReadOnlyList<MetricRecord> records) => onReplay(records);
    }

    internal sealed class ProtocolWriter : IDisposable
    {
        private readonly Stream _stream;
        private readonly Lock _lock = new();
        private readonly Stopwatch _sinceWrite = Stopwatch.StartNew();
        private readonly byte[] _newline = [(byte)'\n'];

        public ProtocolWriter(Stream stream) => _stream = stream;

        /// <summary>
        /// Moves the real stdout to a private descriptor for the protocol and points descriptor 1 (and Console.Out) at
        /// stderr, so stray prints from managed or native code land in the log instead of the pipe.
        /// </summary>
        public static ProtocolWriter TakeOverStdout()
        {
            Console.Out.Flush();
            var fd = Native.dup(1);
            if (fd < 0 || Native.dup2(2, 1) < 0)
                throw new IOException($"cannot redirect stdout (errno {Marshal.GetLastPInvokeError()})");
            Console.SetOut(Console.Error);
            return new ProtocolWriter(new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0));
        }

        private long _beatsAtWrite = RunPulse.Beats;

        /// <summary>Time since the last line, and <see cref="RunPulse.Beats"/> when it was written.</summary>
        public (TimeSpan Since, long Beats) LastWrite
        {
            get { lock (_lock) return (_sinceWrite.Elapsed, _beatsAtWrite); }
        }

        public void Write(AttemptMessage message)
        {
            var bytes = Encoding.UTF8.GetBytes(AttemptProtocol.Serialize(message));
            lock (_lock)
            {
                _stream.Write(bytes);
                _stream.Write(_newline);
                _stream.Flush();
                _sinceWrite.Restart();
                _beatsAtWrite = RunPulse.Beats;
            }
        }

        public void Dispose() => _stream.Dispose();
    }

    static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int dup(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern int dup2(int oldFd, int newFd);

        [DllImport("libc", EntryPoint = "_exit")]
        private static extern void _exit(int status);

        /// <summary>Ends the process now: no managed shutdown, no other thread gets to write another byte.</summary>
        public static void Exit(int code) => _exit(code);
    }
}
