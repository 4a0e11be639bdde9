using System.Diagnostics;
using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Cli;

/// <summary>
/// Checkpoint loading against reading the same bytes: a randomly initialised model of a bench shape (default
/// Qwen2.5-0.5B's) saved in bf16 and sharded, then, alternately and each in a fresh child process, (a) every
/// shard read into a reused buffer and (b) <see cref="CheckpointLoader.Load(string, Device?, ScalarType?)"/> to float32
/// on CPU. Reports seconds, load ÷ read, and each child's peak RSS (VmHWM) against the model's float32 size.
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
        var results = new List<(double Read, double Load, double LoadRssMb)>();
        for (var round = 0; round < rounds; round++)
        {
            if (cold) DropPageCache();
            var read = Child(directory, "read", threads);
            if (cold) DropPageCache();
            var load = Child(directory, "load", threads);
            results.Add((read["seconds"]!.GetValue<double>(), load["seconds"]!.GetValue<double>(), load["peak_rss_mb"]!.GetValue<double>()));
            Console.Error.WriteLine($"round {round + 1}: read {results[^1].Read:F2}s, load {results[^1].Load:F2}s " +
                $"(building the model {load["create_s"]!.GetValue<double>():F2}s), load peak RSS {results[^1].LoadRssMb:F0} MB");
        }
        var readMedian = Bench.Median(results.Select(r => r.Read));
        var loadMedian = Bench.Median(results.Select(r => r.Load));
        var summary = new JsonObject
        {
            ["config"] = configName,
            ["page_cache"] = cold ? "dropped before each child" : "warm",
            ["checkpoint_bytes"] = bytes,
            ["shards"] = CheckpointLoader.WeightFiles(directory).Count,
            ["rounds"] = rounds,
            ["read_s_median"] = Math.Round(readMedian, 3),
            ["load_s_median"] = Math.Round(loadMedian, 3),
            ["load_over_read"] = Math.Round(loadMedian / readMedian, 2),
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
        double? createSeconds = null;
        if (what == "load")
        {
            // CheckpointLoader.Load in its two parts, timed apart: building the model, then copying the weights in.
            var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
            using var model = CheckpointLoader.Create(config, CPU, CheckpointLoader.ComputeDType(TorchSharp.DeviceType.CPU, config.TorchDtype));
            createSeconds = sw.Elapsed.TotalSeconds;
            CheckpointLoader.LoadWeights(model, directory);
        }
        Console.WriteLine(new JsonObject
        {
            ["seconds"] = sw.Elapsed.TotalSeconds,
            ["create_s"] = createSeconds,
            ["peak_rss_mb"] = Bench.ProcStatusMb("VmHWM"),
        }.ToJsonString());
        return 0;
    }

    /// <summary>Empties the kernel's page cache so the next child reads from disk (needs root).</summary>
    static void DropPageCache()
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
    }

    static JsonObject Child(string directory, string what, int threads) =>
        JsonNode.Parse(Bench.RunChildProcess(["--dir", directory, "--what", what, "--threads", $"{threads}"], threads, ChildVerb))!.AsObject();
}
