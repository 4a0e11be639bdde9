using System.Diagnostics;
using System.Text;

namespace LoraService.EndToEnd.Tests;

/// <summary>An API or worker host running as a real child process, as in production; its output is kept for failure messages.</summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HostProcess(Process process) => _process = process;

    public string Url { get; private init; } = "";
    public int Port => new Uri(Url).Port;
    public int Pid => _process.Id;
    public bool HasExited => _disposed || _process.HasExited;
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Starts the host and waits until /health/ready answers; <paramref name="port"/> reuses a port (an API restart).</summary>
    public static async Task<HostProcess> StartAsync(string project, IReadOnlyDictionary<string, string> environment, int? port = null)
    {
        port ??= LoraService.TestSupport.LoopbackPort.Free();
        var dll = HostDll(project);
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment) start.Environment[key] = value;

        var host = new HostProcess(new Process { StartInfo = start }) { Url = $"http://127.0.0.1:{port}" };
        host._process.OutputDataReceived += (_, e) => host.Append(e.Data);
        host._process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        host._process.Start();
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = new Uri(host.Url) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (host.HasExited) throw new InvalidOperationException($"{project} exited at start:\n{host.Output}");
            try
            {
                if ((await http.GetAsync("/health/ready")).IsSuccessStatusCode) return host;
            }
            catch (HttpRequestException) { }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{project} did not become ready:\n{host.Output}");
    }

    /// <summary>SIGTERM, as a deployment rollout sends it; waits for the process to exit.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>Sends SIGTERM and returns at once (the process shuts down in the background).</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>The exit code once exited; null while running.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>
    /// SIGKILL to this process only, as the kernel's OOM killer or a node failure would do it: its children (attempt
    /// processes) are not killed with it. Returns their pids, read just before the kill, so a test can check they go too.
    /// </summary>
    public IReadOnlyList<int> Crash()
    {
        var children = Descendants(_process.Id);
        using (var kill = Process.Start("kill", ["-KILL", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        _process.WaitForExit();
        return children;
    }

    /// <summary>Kills a process this test started (e.g. an orphaned attempt process), by pid, if it is still ours: alive and a LoraService process.</summary>
    public static bool KillIfOurs(int pid)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            if (!cmdline.Contains("LoraService", StringComparison.Ordinal)) return false;
            using var process = Process.GetProcessById(pid);
            process.Kill();
            return true;
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static List<int> Descendants(int pid)
    {
        var found = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                var file = Path.Combine(task, "children");
                if (!File.Exists(file)) continue;
                foreach (var child in File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse))
                {
                    found.Add(child);
                    found.AddRange(Descendants(child));
                }
            }
        }
        catch (IOException) { } // the process went meanwhile
        catch (UnauthorizedAccessException) { }
        return found;
    }

    /// <summary>SIGKILL: no shutdown hooks, no final writes — a crash.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private static string HostDll(string project)
    {
        // tests/EndToEnd.Tests/bin/<Configuration>/net10.0 → src/<project>/bin/<Configuration>/net10.0
        var testBin = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var framework = Path.GetFileName(testBin);
        var configuration = Path.GetFileName(Path.GetDirectoryName(testBin)!);
        var root = Path.GetFullPath(Path.Combine(testBin, "../../../../.."));
        var dll = Path.Combine(root, "src", project, "bin", configuration, framework, $"LoraService.{project}.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build {project} first: {dll} is missing.");
    }
}
