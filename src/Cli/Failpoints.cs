using System.Globalization;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoraService.Cli;

/// <summary>
/// Fault injection for the <c>attempt</c> verb only, from <c>LORA_FAILPOINT</c> (checked after every optimizer step,
/// once the step's line is on the pipe):
/// <list type="bullet">
/// <item><c>crash@N</c>: after step N the process sends itself SIGKILL (libc <c>kill(getpid(), 9)</c>): nothing runs
/// after it, like the kernel's OOM killer or a native fault. .NET reports the exit code as 137 (128 + 9).</item>
/// <item><c>hang@N</c>: after step N the training thread blocks forever; the watchdog sees no more progress, so nothing
/// more is written on stdout. Stdin EOF still exits the process; <c>stop</c> and SIGTERM do not end it.</item>
/// <item><c>oom@N</c>: after step N libtorch is asked for an impossible tensor (2^42 floats, 16 TiB); its real
/// allocation error travels the normal error path and is reported as <c>out_of_memory</c>.</item>
/// <item><c>exit@N:CODE</c>: after step N the process exits with CODE (<c>Environment.Exit</c>).</item>
/// </list>
/// With <c>LORA_FAILPOINT_ATTEMPT=k</c> the failpoint fires only when <c>LORA_ATTEMPT</c> (set by the worker to the
/// attempt number) equals k.
/// </summary>
sealed class Failpoint
{
    public const string Variable = "LORA_FAILPOINT";
    public const string AttemptVariable = "LORA_FAILPOINT_ATTEMPT";
    public const string CurrentAttemptVariable = "LORA_ATTEMPT";
    public const int SigKill = 9;

    public string Kind { get; }
    public int Step { get; }
    public int ExitCode { get; }

    private Failpoint(string kind, int step, int exitCode) => (Kind, Step, ExitCode) = (kind, step, exitCode);

    /// <summary>The failpoint configured for this process, or null (none, or not this attempt).</summary>
    public static Failpoint? FromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(value)) return null;
        var only = Environment.GetEnvironmentVariable(AttemptVariable);
        if (!string.IsNullOrWhiteSpace(only) && only.Trim() != Environment.GetEnvironmentVariable(CurrentAttemptVariable)?.Trim())
            return null;
        return Parse(value.Trim());
    }

    public static Failpoint Parse(string value)
    {
        var at = value.IndexOf('@');
        if (at <= 0) throw new UsageException($"{Variable}='{value}': expected KIND@STEP (crash, hang, oom, exit@STEP:CODE)");
        var kind = value[..at];
        var rest = value[(at + 1)..];
        var code = 0;
        if (kind == "exit")
        {
            var colon = rest.IndexOf(':');
            if (colon < 0 || !int.TryParse(rest[(colon + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out code))
                throw new UsageException($"{Variable}='{value}': expected exit@STEP:CODE");
            rest = rest[..colon];
        }
        else if (kind is not ("crash" or "hang" or "oom"))
            throw new UsageException($"{Variable}='{value}': unknown kind '{kind}' (crash, hang, oom, exit)");
        if (!int.TryParse(rest, NumberStyles.Integer, CultureInfo.InvariantCulture, out var step) || step < 0)
            throw new UsageException($"{Variable}='{value}': STEP must be a non-negative integer");
        return new Failpoint(kind, step, code);
    }

    /// <summary>Called on the training thread after each step's message was written.</summary>
    public void AfterStep(int step)
    {
        if (step != Step) return;
        Console.Error.WriteLine($"failpoint {Kind}@{Step} fires");
        switch (Kind)
        {
            case "crash":
                kill(getpid(), SigKill);
                Thread.Sleep(Timeout.Infinite); // SIGKILL is delivered before kill() returns; never reached
                break;
            case "hang":
                Thread.Sleep(Timeout.Infinite);
                break;
            case "oom":
                using (var impossible = empty([1L << 42], ScalarType.Float32))
                    impossible.fill_(0); // not reached: the allocation throws
                break;
            case "exit":
                Environment.Exit(ExitCode);
                break;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [DllImport("libc")]
    private static extern int getpid();
}
