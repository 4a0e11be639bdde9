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
            var read = Child(directory, "read", threads);
            var load = Child(directory, "load", threads);
            results.Add((read["seconds"]!.GetValue<double>(), load["seconds"]!.GetValue<double>(), load["peak_rss_mb"]!.GetValue<double>()));
            Console.Error.WriteLine($"round {round + 1}: read {results[^1].Read:F2}s, load {results[^1].Load:F2}s, load peak RSS {results[^1].LoadRssMb:F0} MB");
        }
        var readMedian = Median(results.Select(r => r.Read));
        var loadMedian = Median(results.Select(r => r.Load));
        var summary = new JsonObject
        {
            ["config"] = configName,
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
        else
        {
            using var model = CheckpointLoader.Load(directory);
        }
        Console.WriteLine(new JsonObject { ["seconds"] = sw.Elapsed.TotalSeconds, ["peak_rss_mb"] = Bench.ProcStatusMb("VmHWM") }.ToJsonString());
        return 0;
    }

    static JsonObject Child(string directory, string what, int threads) =>
        JsonNode.Parse(Bench.RunChildProcess(["--dir", directory, "--what", what, "--threads", $"{threads}"], threads, ChildVerb))!.AsObject();

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
