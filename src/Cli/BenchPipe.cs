using System.Diagnostics;
using System.IO.Pipes;
using System.Text;
using System.Text.Json.Nodes;
using LoraService.Contracts.Attempts;

namespace LoraService.Cli;

/// <summary>
/// <c>bench-pipe</c>: what the attempt protocol costs the training thread per step, against the step time of the
/// <c>bench</c> small config. The cost is one <see cref="AttemptStep"/> serialised, written and flushed through the
/// attempt verb's own writer into a real OS pipe (pipe(2)), while another thread reads every line and parses it with
/// <see cref="AttemptProtocol.Parse"/>, as the worker does.
/// </summary>
static class BenchPipe
{
    public const string Verb = "bench-pipe";

    public static int Run(Args a)
    {
        var messages = a.Int("messages") ?? 20000;
        var mode = a.Str("mode") ?? "lora";
        var threads = a.Int("threads") ?? 2;
        var givenStepMs = a.Str("step-ms");
        a.EnsureAllUsed();
        if (messages < 1) throw new UsageException("--messages must be at least 1");
        if (mode is not ("full" or "lora")) throw new UsageException($"unknown mode '{mode}' (full, lora)");

        var (writerUs, endToEndUs) = Measure(messages);

        double stepMs;
        if (givenStepMs is not null)
            stepMs = double.Parse(givenStepMs, System.Globalization.CultureInfo.InvariantCulture);
        else
        {
            var line = Bench.RunChildProcess(["--config", "small", "--mode", mode, "--warmup", "3", "--steps", "10",
                "--threads", $"{threads}", "--seed", "0"], threads);
            stepMs = JsonNode.Parse(line)!["s_per_step_median"]!.GetValue<double>() * 1000;
        }
        Console.WriteLine(new JsonObject
        {
            ["config"] = "small",
            ["mode"] = mode,
            ["step_ms"] = Math.Round(stepMs, 1),
            ["pipe_us_per_step"] = Math.Round(writerUs, 2),
            ["pipe_us_per_step_end_to_end"] = Math.Round(endToEndUs, 2),
            ["ratio"] = writerUs / 1000 / stepMs,
            ["messages"] = messages,
        }.ToJsonString());
        return 0;
    }

    /// <summary>Microseconds per message on the writing thread, and per message until the reader parsed the last one.</summary>
    static (double WriterUs, double EndToEndUs) Measure(int messages)
    {
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        var parsed = 0;
        var reader = new Thread(() =>
        {
            using var lines = new StreamReader(client, Encoding.UTF8);
            while (lines.ReadLine() is { } line)
                if (AttemptProtocol.Parse(line) is AttemptStep) parsed++;
        }) { IsBackground = true };
        reader.Start();

        var writer = new Attempt.ProtocolWriter(server);
        AttemptStep Step(int i) => new(i, messages, 2.0 / (1 + i * 1e-3), 2e-4 * (1 - (double)i / messages), 0.73 + i * 1e-6, 1021.7,
            2048L * i, i / 61.0, 2.13 * i, 2.13 * (messages - i));
        for (var i = 1; i <= Math.Min(1000, messages); i++) writer.Write(Step(i)); // warm-up (JIT, pipe buffers)
        var warm = Math.Min(1000, messages);

        var clock = Stopwatch.StartNew();
        for (var i = 1; i <= messages; i++)
            writer.Write(Step(i));
        var writing = clock.Elapsed;
        writer.Dispose(); // EOF for the reader
        reader.Join();
        var total = clock.Elapsed;
        if (parsed != messages + warm)
            throw new InvalidOperationException($"the reader parsed {parsed} step lines, expected {messages + warm}");
        return (writing.TotalMicroseconds / messages, total.TotalMicroseconds / messages);
    }
}
