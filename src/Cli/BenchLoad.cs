using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Cli;

/// <summary>
/// Checkpoint loading against reading the same bytes: a randomly initialised model of a bench shape (default
/// Qwen2.5-0.5B's) saved in bf16 and sharded, then, alternately and each in a fresh child process, (a) every
/// shard read into a reused buffer through the page cache, (b) the same past the page cache (<c>O_DIRECT</c>, the
/// disk's own speed), (c) the float32 model built and every parameter filled with zeros (the first touch of its fresh
/// memory, which any load pays), and (d) <see cref="CheckpointLoader.Load(string, Device?, ScalarType?)"/> to float32 on
/// CPU. Reports seconds, load ÷ each read, and each child's peak RSS (VmHWM) against the model's float32 size.
/// </summary>
static class BenchLoad
{
    public const string Verb = "bench-load";
    public const string ChildVerb = "__bench-load-one";

    public static int Run(Args a)
    {
        var configName = a.Str("config") ?? "qwen0.5b";
        var directory = a.Str("dir") ?? Path.Combine(Path.GetTempPath(), $"lora-bench-load-{configName}");
        var rounds = a.Int("rounds") ?? 3;
        var shardMb = a.Int("shard-mb") ?? 400;
        var cold = a.Flag("cold");
        var threads = a.Int("threads") ?? 2;
        var settle = TimeSpan.FromSeconds(a.Int("settle-s") ?? 0);
        a.EnsureAllUsed();
        if (!Bench.Configs.TryGetValue(configName, out var shape))
            throw new UsageException($"unknown config '{configName}' ({string.Join(", ", Bench.Configs.Keys)})");

        if (!File.Exists(Path.Combine(directory, "config.json")))
        {
            Console.Error.WriteLine($"writing a random {configName} checkpoint (bf16, {shardMb} MB shards) to {directory}");
            using var model = ModelFactory.CreateRandom(Bench.ModelConfigFor(shape) with { TorchDtype = "bfloat16" }, seed: 0);
            CheckpointExporter.Save(model, directory, maxShardBytes: shardMb * 1_000_000L);
        }
        var bytes = CheckpointLoader.WeightFiles(directory).Sum(f => new FileInfo(f).Length);
        var results = new List<(double Read, double DirectRead, double Touch, double Load, double LoadRssMb)>();
        for (var round = 0; round < rounds; round++)
        {
            if (cold) DropPageCache(settle);
            var read = Child(directory, "read", threads);
            if (cold) DropPageCache(settle);
            var directRead = Child(directory, "read-direct", threads);
            if (cold) DropPageCache(settle);
            var load = Child(directory, "load", threads);
            // After the load: a child that touches 1.9 GB leaves the VM's memory warm for whatever runs next.
            if (cold) DropPageCache(settle);
            var touch = Child(directory, "touch", threads);
            results.Add((Seconds(read), Seconds(directRead), Seconds(touch), Seconds(load), load["peak_rss_mb"]!.GetValue<double>()));
            Console.Error.WriteLine($"round {round + 1}: read {results[^1].Read:F2}s, direct read {results[^1].DirectRead:F2}s, " +
                $"first touch {results[^1].Touch:F2}s, " +
                $"load {results[^1].Load:F2}s (building the model {load["create_s"]!.GetValue<double>():F2}s; {load["routes"]}), " +
                $"load peak RSS {results[^1].LoadRssMb:F0} MB");
        }
        var readMedian = Bench.Median(results.Select(r => r.Read));
        var directReadMedian = Bench.Median(results.Select(r => r.DirectRead));
        var touchMedian = Bench.Median(results.Select(r => r.Touch));
        var loadMedian = Bench.Median(results.Select(r => r.Load));
        var summary = new JsonObject
        {
            ["config"] = configName,
            ["page_cache"] = cold ? "dropped before each child" : "warm",
            ["checkpoint_bytes"] = bytes,
            ["shards"] = CheckpointLoader.WeightFiles(directory).Count,
            ["rounds"] = rounds,
            ["read_s_median"] = Math.Round(readMedian, 3),
            ["direct_read_s_median"] = Math.Round(directReadMedian, 3),
            ["first_touch_s_median"] = Math.Round(touchMedian, 3),
            ["load_s_median"] = Math.Round(loadMedian, 3),
            ["load_over_read"] = Math.Round(loadMedian / readMedian, 2),
            ["load_over_direct_read"] = Math.Round(loadMedian / directReadMedian, 2),
            ["rounds_s"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
            {
                ["read"] = Math.Round(r.Read, 3), ["direct_read"] = Math.Round(r.DirectRead, 3),
                ["first_touch"] = Math.Round(r.Touch, 3), ["load"] = Math.Round(r.Load, 3),
            }).ToArray()),
            ["load_peak_rss_mb_max"] = Math.Round(results.Max(r => r.LoadRssMb), 1),
            ["float32_weights_mb"] = Math.Round(bytes * 2 / 1048576.0, 1),
        };
        Console.WriteLine(summary.ToJsonString());
        return 0;
    }

    public static int RunChild(Args a)
    {
        var directory = a.Required("dir");
        var what = a.Required("what");
        var threads = a.Int("threads") ?? 2;
        a.EnsureAllUsed();
        set_num_threads(threads);
        var sw = Stopwatch.StartNew();
        if (what == "read")
        {
            var buffer = new byte[16 << 20];
            foreach (var file in CheckpointLoader.WeightFiles(directory))
            {
                using var stream = File.OpenRead(file);
                while (stream.Read(buffer) > 0) { }
            }
        }
        if (what == "read-direct")
            ReadDirect(directory);
        double? createSeconds = null;
        string? routes = null;
        if (what == "touch")
        {
            using var model = CreateUninitialised(directory);
            createSeconds = sw.Elapsed.TotalSeconds;
            using var _ = no_grad();
            foreach (var parameter in model.parameters())
                parameter.zero_();
        }
        if (what == "load")
        {
            // CheckpointLoader.Load in its two parts, timed apart: building the model, then copying the weights in.
            using var model = CreateUninitialised(directory);
            createSeconds = sw.Elapsed.TotalSeconds;
            var report = CheckpointLoader.LoadWeights(model, directory);
            routes = string.Join(", ", report.Routes.OrderBy(r => r.Key).Select(r => $"{r.Key} {r.Value}"));
        }
        Console.WriteLine(new JsonObject
        {
            ["seconds"] = sw.Elapsed.TotalSeconds,
            ["create_s"] = createSeconds,
            ["routes"] = routes,
            ["peak_rss_mb"] = Bench.ProcStatusMb("VmHWM"),
        }.ToJsonString());
        return 0;
    }

    static CausalLM CreateUninitialised(string directory)
    {
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        return CheckpointLoader.Create(config, CPU, CheckpointLoader.ComputeDType(TorchSharp.DeviceType.CPU, config.TorchDtype));
    }

    /// <summary>Every shard read past the page cache into one reused aligned buffer: what the disk itself delivers.</summary>
    static unsafe void ReadDirect(string directory)
    {
        const int bufferBytes = 16 << 20;
        var buffer = NativeMemory.AlignedAlloc(bufferBytes, DirectFile.Alignment);
        try
        {
            var span = new Span<byte>(buffer, bufferBytes);
            foreach (var file in CheckpointLoader.WeightFiles(directory))
            {
                using var direct = DirectFile.TryOpen(file) ?? throw new UsageException($"{file}: this file system has no direct reads");
                var length = new FileInfo(file).Length / DirectFile.Alignment * DirectFile.Alignment; // the unaligned last bytes are left out
                for (long offset = 0; offset < length; offset += bufferBytes)
                    if (!direct.TryRead(span[..(int)Math.Min(bufferBytes, length - offset)], offset))
                        throw new UsageException($"{file}: a direct read was turned down");
            }
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    static double Seconds(JsonObject child) => child["seconds"]!.GetValue<double>();

    /// <summary>Empties the kernel's page cache so the next child reads from disk (needs root).</summary>
    static void DropPageCache(TimeSpan settle)
    {
        using (var sync = Process.Start("sync")) sync!.WaitForExit();
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UsageException($"--cold needs to write /proc/sys/vm/drop_caches (root): {e.Message}");
        }
        Thread.Sleep(settle);
    }

    static JsonObject Child(string directory, string what, int threads) =>
        JsonNode.Parse(Bench.RunChildProcess(["--dir", directory, "--what", what, "--threads", $"{threads}"], threads, ChildVerb))!.AsObject();
}
