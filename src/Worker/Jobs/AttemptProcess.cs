using System.Diagnostics;
using System.Threading.Channels;
using LoraService.Contracts.Attempts;

namespace LoraService.Worker.Jobs;

/// <summary>
/// The child process that runs one attempt (<c>LoraService.Cli attempt SPEC.json</c>): its protocol lines as a stream of
/// messages, its stderr kept for the failure report, a stop command, and a kill. Disposing closes its stdin, which makes
/// a child that is still running exit at once.
/// </summary>
internal sealed class AttemptProcess : IAsyncDisposable
{
    private const int StderrLinesKept = 40;
    private readonly Process _process;
    private readonly Channel<AttemptMessage> _messages = Channel.CreateUnbounded<AttemptMessage>(new() { SingleReader = true });
    private readonly Queue<string> _stderr = new();
    private readonly ILogger _logger;
    private readonly Guid _jobId;
    private readonly int _attempt;
    private long _lastOutputTicks = Environment.TickCount64;
    private int _stopSent;

    private AttemptProcess(Process process, Guid jobId, int attempt, ILogger logger) =>
        (_process, _jobId, _attempt, _logger) = (process, jobId, attempt, logger);

    public int Pid => _process.Id;
    public ChannelReader<AttemptMessage> Messages => _messages.Reader;
    /// <summary>Time since the child last wrote anything on stdout.</summary>
    public TimeSpan Silence => TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _lastOutputTicks));
    public string StderrTail { get { lock (_stderr) return string.Join('\n', _stderr); } }

    public static AttemptProcess Start(string specPath, Guid jobId, int attempt, int memoryLimitMb, ILogger logger)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "LoraService.Cli.dll");
        if (!File.Exists(cli)) throw new FileNotFoundException($"The engine CLI is missing next to the worker: {cli}");
        string[] command = [DotnetHost(), cli, "attempt", specPath];
        // prlimit (util-linux) sets the limit and then execs the command: the pid stays the attempt's own.
        if (memoryLimitMb > 0) command = ["prlimit", $"--as={memoryLimitMb * 1024L * 1024L}", "--", .. command];
        var start = new ProcessStartInfo(command[0], command[1..])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment["LORA_ATTEMPT"] = attempt.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = new Process { StartInfo = start };
        var child = new AttemptProcess(process, jobId, attempt, logger);
        process.OutputDataReceived += (_, e) => child.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnStderr(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Asks the child to stop after its current step and checkpoint. Idempotent.</summary>
    public void RequestStop()
    {
        if (Interlocked.Exchange(ref _stopSent, 1) == 1) return;
        try
        {
            _process.StandardInput.WriteLine(AttemptProtocol.StopCommand);
            _process.StandardInput.Flush();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            // The child is already gone; its exit says the rest.
        }
    }

    public bool StopRequested => Volatile.Read(ref _stopSent) == 1;

    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
    }

    /// <summary>The exit code; .NET reports a child killed by signal N as 128 + N.</summary>
    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            _messages.Writer.TryComplete();
            return;
        }
        Interlocked.Exchange(ref _lastOutputTicks, Environment.TickCount64);
        if (AttemptProtocol.Parse(line) is { } message) _messages.Writer.TryWrite(message);
        else Relay(line);
    }

    private void OnStderr(string? line)
    {
        if (line is null) return;
        lock (_stderr)
        {
            _stderr.Enqueue(line);
            if (_stderr.Count > StderrLinesKept) _stderr.Dequeue();
        }
        Relay(line);
    }

    /// <summary>A line the child wrote, logged in the job's scope (these callbacks run on the process reader's threads).</summary>
    private void Relay(string line)
    {
        using var scope = LoraService.ServiceDefaults.Observability.JobLogScope.Begin(_logger, _jobId, _attempt);
        _logger.LogInformation("[attempt {Pid}] {Line}", _process.Id, line);
    }

    public async ValueTask DisposeAsync()
    {
        try { _process.StandardInput.Close(); } catch (Exception e) when (e is IOException or InvalidOperationException) { }
        if (!_process.HasExited)
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await _process.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { Kill(); }
        }
        _process.Dispose();
    }

    /// <summary>The dotnet muxer this worker runs on (a worker started through its apphost falls back to PATH).</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host) return host;
        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }
}
