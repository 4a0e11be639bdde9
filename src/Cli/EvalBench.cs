using System.Diagnostics;
using System.Text.Json.Nodes;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Cli;

/// <summary>
/// <c>bench-eval</c>: exact-match generation as evaluation runs it, batched (<see cref="BatchedGreedy"/>) against one
/// prompt at a time (<see cref="CausalLM.GenerateGreedy"/>), on the <c>bench</c> small config's model. The two variants
/// alternate within each round (odd rounds start batched), so a machine shared with other work slows both alike; every
/// round checks that both produced the same tokens.
/// </summary>
static class EvalBench
{
    public const string Verb = "bench-eval";

    public static int Run(Args a)
    {
        var config = a.Str("config") ?? "small";
        var prompts = a.Int("prompts") ?? 200;
        var newTokens = a.Int("new-tokens") ?? 64;
        var rounds = a.Int("rounds") ?? 2;
        var threads = a.Int("threads") ?? 2;
        var batchSize = a.Int("batch-size") ?? BatchLimits.Default.MaxRows;
        var batchTokens = a.Int("batch-tokens") ?? BatchLimits.Default.MaxTokens;
        var (minLength, maxLength) = (a.Int("min-prompt") ?? 30, a.Int("max-prompt") ?? 110);
        var seed = a.Int("seed") ?? 0;
        a.EnsureAllUsed();
        if (prompts < 1 || newTokens < 1 || rounds < 1 || batchSize < 1 || batchTokens < 1)
            throw new UsageException("--prompts, --new-tokens, --rounds, --batch-size and --batch-tokens must be at least 1");
        var modelConfig = Bench.ModelConfigOf(config);
        if (minLength < 1 || maxLength < minLength || maxLength + newTokens > modelConfig.MaxPositions)
            throw new UsageException($"prompt lengths must satisfy 1 ≤ --min-prompt ≤ --max-prompt and --max-prompt + --new-tokens ≤ {modelConfig.MaxPositions}");

        set_num_threads(threads);
        set_num_interop_threads(1);
        using var model = ModelFactory.CreateRandom(modelConfig, seed);
        model.eval();
        // GSM8K questions are 20–200 BPE tokens, most of them 40–100: lengths drawn uniformly from the range, random ids.
        var random = new Random(seed + 1);
        var batch = Enumerable.Range(0, prompts)
            .Select(_ => Enumerable.Range(0, random.Next(minLength, maxLength + 1)).Select(_ => random.Next(modelConfig.VocabSize)).ToArray())
            .ToArray();
        var limits = new BatchLimits(batchSize, batchTokens);

        var batchedSeconds = new List<double>();
        var aloneSeconds = new List<double>();
        var batchedCpu = new List<double>();
        var aloneCpu = new List<double>();
        var identical = true;
        for (var round = 1; round <= rounds; round++)
        {
            int[][]? batched = null, alone = null;
            void Batched() => batched = Time(batchedSeconds, batchedCpu, () => BatchedGreedy.Generate(model, batch, newTokens, eosId: null, limits));
            void Alone() => alone = Time(aloneSeconds, aloneCpu, () => batch.Select(p => model.GenerateGreedy(p, newTokens)).ToArray());
            if (round % 2 == 1) { Batched(); Alone(); }
            else { Alone(); Batched(); }
            identical &= batched!.Zip(alone!).All(pair => pair.First.SequenceEqual(pair.Second));
            Console.Error.WriteLine($"round {round}: batched {batchedSeconds[^1]:F2} s ({batchedCpu[^1]:F2} s CPU), " +
                $"one at a time {aloneSeconds[^1]:F2} s ({aloneCpu[^1]:F2} s CPU), ratio {aloneSeconds[^1] / batchedSeconds[^1]:F2} " +
                $"(CPU time {aloneCpu[^1] / batchedCpu[^1]:F2})");
        }

        var ratios = aloneSeconds.Zip(batchedSeconds, (x, y) => x / y).ToList();
        var cpuRatios = aloneCpu.Zip(batchedCpu, (x, y) => x / y).ToList();
        Console.WriteLine(new JsonObject
        {
            ["bench"] = Verb,
            ["config"] = config,
            ["prompts"] = prompts,
            ["new_tokens"] = newTokens,
            ["prompt_tokens"] = batch.Sum(p => p.Length),
            ["batch_size"] = batchSize,
            ["batch_tokens"] = batchTokens,
            ["threads"] = threads,
            ["rounds"] = rounds,
            ["batched_s"] = new JsonArray([.. batchedSeconds.Select(s => (JsonNode)Math.Round(s, 3))]),
            ["one_at_a_time_s"] = new JsonArray([.. aloneSeconds.Select(s => (JsonNode)Math.Round(s, 3))]),
            ["ratio_per_round"] = new JsonArray([.. ratios.Select(r => (JsonNode)Math.Round(r, 2))]),
            ["ratio_median"] = Math.Round(Bench.Median(ratios), 2),
            // CPU time of this process: the work each variant did, much less sensitive than wall time to other
            // processes taking the cores (with --threads 1 it is close to the single thread's busy time).
            ["batched_cpu_s"] = new JsonArray([.. batchedCpu.Select(s => (JsonNode)Math.Round(s, 3))]),
            ["one_at_a_time_cpu_s"] = new JsonArray([.. aloneCpu.Select(s => (JsonNode)Math.Round(s, 3))]),
            ["cpu_ratio_per_round"] = new JsonArray([.. cpuRatios.Select(r => (JsonNode)Math.Round(r, 2))]),
            ["cpu_ratio_median"] = Math.Round(Bench.Median(cpuRatios), 2),
            ["batched_new_tokens_per_s"] = Math.Round(prompts * newTokens / Bench.Median(batchedSeconds), 1),
            ["one_at_a_time_new_tokens_per_s"] = Math.Round(prompts * newTokens / Bench.Median(aloneSeconds), 1),
            ["identical_outputs"] = identical,
        }.ToJsonString());
        return identical ? 0 : 1;
    }

    static T Time<T>(List<double> wall, List<double> cpu, Func<T> work)
    {
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var result = work();
        wall.Add(clock.Elapsed.TotalSeconds);
        cpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds);
        return result;
    }
}
