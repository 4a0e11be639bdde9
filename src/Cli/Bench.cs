using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using LoraService.Training.Loop;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Cli;

/// <summary>
/// Training-step throughput of the engine (<see cref="ModelFactory"/>, <see cref="LlamaForCausalLM"/>,
/// <see cref="LoraModel"/>) on the same model, shapes and step as the PyTorch peer <c>../shared/bench/torch_ref.py</c>.
/// </summary>
static class Bench
{
    public const string ChildVerb = "__bench-one";

    internal sealed record Shape(int Vocab, int Hidden, int Layers, int Heads, int Intermediate, int Seq, int Batch, int Warmup, int Steps)
    {
        public int KvHeads { get; init; } = Heads;
        public bool Tied { get; init; }
        public bool AttentionBias { get; init; }
    }

    // small and medium: the same table as torch_ref.py's CONFIGS / DEFAULT_STEPS. qwen0.5b: Qwen2.5-0.5B's shapes
    // (GQA 14/2, tied embeddings, q/k/v biases), sequence 512, batch 1, randomly initialised.
    internal static readonly Dictionary<string, Shape> Configs = new()
    {
        ["small"] = new(8192, 256, 4, 8, 688, 256, 8, 3, 10),
        ["medium"] = new(32000, 512, 8, 8, 1376, 512, 4, 2, 4),
        ["qwen0.5b"] = new(151936, 896, 24, 14, 4864, 512, 1, 1, 3) { KvHeads = 2, Tied = true, AttentionBias = true },
    };

    const double LrFull = 1e-4, LrLora = 2e-4, LoraAlpha = 32, DefaultLoraDropout = 0.05, RmsEps = 1e-6, RopeTheta = 10000;
    const int LoraRank = 16;

    public static int Run(Args a)
    {
        var configs = a.List("configs", "small,medium");
        var modes = a.List("modes", "full,lora");
        var steps = a.Int("steps");
        var warmup = a.Int("warmup");
        var perConfig = Configs.Keys.ToDictionary(k => k, k => (Warmup: a.Int($"{k}-warmup"), Steps: a.Int($"{k}-steps")));
        var threads = a.Int("threads") ?? 2;
        var seed = a.Int("seed") ?? 0;
        var outPath = a.Str("out");
        var inProcess = a.Flag("in-process");
        var checkpointing = a.Flag("gradient-checkpointing");
        var denseLoss = a.Flag("dense-loss");
        var loraDropout = a.Str("lora-dropout");
        var device = a.Str("device") ?? "cpu";
        var dtype = a.Str("dtype") ?? "float32";
        a.EnsureAllUsed();
        ParseDevice(device, dtype);
        foreach (var c in configs.Where(c => !Configs.ContainsKey(c)))
            throw new UsageException($"unknown config '{c}' ({string.Join(", ", Configs.Keys)})");
        foreach (var m in modes.Where(m => m is not ("full" or "lora")))
            throw new UsageException($"unknown mode '{m}' (full, lora)");

        var lines = new List<string>();
        foreach (var config in configs)
            foreach (var mode in modes)
            {
                var w = perConfig[config].Warmup ?? warmup ?? Configs[config].Warmup;
                var s = perConfig[config].Steps ?? steps ?? Configs[config].Steps;
                if (s < 1 || w < 0)
                    throw new UsageException("--steps must be at least 1 and --warmup at least 0");
                string[] childArgs = ["--config", config, "--mode", mode, "--warmup", $"{w}", "--steps", $"{s}", "--threads", $"{threads}", "--seed", $"{seed}",
                    "--device", device, "--dtype", dtype,
                    .. checkpointing ? ["--gradient-checkpointing"] : Array.Empty<string>(),
                    .. denseLoss ? ["--dense-loss"] : Array.Empty<string>(),
                    .. loraDropout is not null ? ["--lora-dropout", loraDropout] : Array.Empty<string>()];
                var line = inProcess ? RunOne(new Args(childArgs)) : RunChildProcess(childArgs, threads);
                Console.WriteLine(line);
                lines.Add(line);
                if (outPath is not null)
                    File.WriteAllLines(outPath, lines); // keep what finished if a later run dies
            }
        return 0;
    }

    /// <summary>Re-executes this program with the hidden verb, so peak RSS belongs to one run.</summary>
    internal static string RunChildProcess(string[] childArgs, int threads, string verb = ChildVerb)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this executable");
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") // launched as `dotnet LoraService.Cli.dll`
            psi.ArgumentList.Add(typeof(Bench).Assembly.Location);
        psi.ArgumentList.Add(verb);
        foreach (var arg in childArgs)
            psi.ArgumentList.Add(arg);
        // As torch_ref.py does: pin every thread pool that might be consulted at start-up.
        foreach (var v in new[] { "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS" })
            psi.Environment[v] = $"{threads}";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the benchmark child");
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var json = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (p.ExitCode != 0 || json is null)
            throw new InvalidOperationException($"benchmark child {verb} {string.Join(' ', childArgs)} failed with exit code {p.ExitCode}");
        return json;
    }

    /// <summary>The Llama-style model of a benchmark config (positions = its sequence length).</summary>
    internal static ModelConfig ModelConfigOf(string configName) =>
        Configs.TryGetValue(configName, out var s)
            ? ModelConfigFor(s)
            : throw new UsageException($"unknown config '{configName}' ({string.Join(", ", Configs.Keys)})");

    public static int RunChild(Args a)
    {
        Console.WriteLine(RunOne(a));
        return 0;
    }

    static string RunOne(Args a)
    {
        var configName = a.Required("config");
        var mode = a.Required("mode");
        var warmup = a.Int("warmup") ?? 0;
        var steps = a.Int("steps") ?? 1;
        var threads = a.Int("threads") ?? 2;
        var seed = a.Int("seed") ?? 0;
        var checkpointing = a.Flag("gradient-checkpointing");
        var denseLoss = a.Flag("dense-loss");
        var loraDropout = a.Str("lora-dropout") is { } d ? double.Parse(d, CultureInfo.InvariantCulture) : DefaultLoraDropout;
        var (device, dtype) = ParseDevice(a.Str("device") ?? "cpu", a.Str("dtype") ?? "float32");
        a.EnsureAllUsed();
        var s = Configs[configName];

        set_num_threads(threads);
        set_num_interop_threads(1);
        manual_seed(seed);
        var baselineRss = ProcStatusMb("VmRSS");

        using var model = ModelFactory.CreateRandom(ModelConfigFor(s), seed, device, dtype);
        model.GradientCheckpointing = checkpointing;
        double lr;
        if (mode == "lora")
        {
            LoraModel.Apply(model, new LoraConfig(LoraRank, LoraAlpha, LoraModel.LlamaTargets, loraDropout));
            lr = LrLora;
        }
        else
        {
            FullFineTune.Prepare(model);
            lr = LrFull;
        }
        model.train();
        var all = model.named_parameters().ToList();
        var trainable = all.Where(p => p.parameter.requires_grad).Select(p => p.parameter).ToList();
        long total = all.Sum(p => p.parameter.numel()), nTrainable = trainable.Sum(p => p.numel());
        var nEmbed = all.Single(p => p.name == "model.embed_tokens.weight").parameter.numel();
        var nLora = all.Where(p => p.name.Contains(".lora_", StringComparison.Ordinal)).Sum(p => p.parameter.numel());
        using var optimizer = optim.AdamW(trainable, lr: lr, weight_decay: 0.0);

        var generator = new Generator((ulong)seed + 1);
        var batches = Enumerable.Range(0, warmup + steps)
            .Select(_ => randint(0, s.Vocab, [s.Batch, s.Seq], ScalarType.Int64, generator: generator).to(device).DetachFromDisposeScope())
            .ToList();

        var times = new List<double>();
        var losses = new List<double>();
        for (var i = 0; i < batches.Count; i++)
        {
            var sw = Stopwatch.StartNew();
            double lossValue;
            using (NewDisposeScope())
            {
                optimizer.zero_grad();
                var ids = batches[i];
                var trace = Environment.GetEnvironmentVariable("BENCH_TRACE") == "1";
                if (denseLoss)
                {
                    var loss = LmLoss(model, ids, s.Vocab);
                    if (trace) Console.Error.WriteLine($"  after fwd+loss rss {ProcStatusMb("VmRSS"):F0} hwm {ProcStatusMb("VmHWM"):F0}");
                    loss.backward();
                    lossValue = loss.item<float>();
                }
                else
                {
                    // The trainer's loss: the same mean cross-entropy, its logits formed and released block by block.
                    lossValue = ChunkedLmLoss.Backward(model, ids, ids, (double)s.Batch * (s.Seq - 1));
                }
                if (trace) Console.Error.WriteLine($"  after bwd rss {ProcStatusMb("VmRSS"):F0} hwm {ProcStatusMb("VmHWM"):F0}");
                optimizer.step();
                if (trace) Console.Error.WriteLine($"  after step rss {ProcStatusMb("VmRSS"):F0} hwm {ProcStatusMb("VmHWM"):F0}");
            }
            StepGarbage.Collect(); // as the trainer does after every step
            if (device.type == DeviceType.CUDA)
                cuda.synchronize(); // the optimizer's kernels may still be queued
            var dt = sw.Elapsed.TotalSeconds;
            losses.Add(lossValue);
            if (i >= warmup)
                times.Add(dt);
            Console.Error.WriteLine($"[{configName}/{mode}] step {i + 1}/{batches.Count} {(i < warmup ? "warmup" : "timed ")} {dt:F3}s loss {lossValue:F4}");
        }
        foreach (var b in batches)
            b.Dispose();

        var tokensPerStep = (double)s.Batch * s.Seq;
        var tps = tokensPerStep * steps / times.Sum();
        var factor = mode == "full" ? 6 : 4;
        var flopsParams = total - nEmbed - nLora;
        var median = Median(times);
        var result = new JsonObject
        {
            ["impl"] = "torchsharp",
            ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(),
            ["libtorch"] = __version__,
            ["config"] = configName,
            ["mode"] = mode,
            ["r"] = mode == "lora" ? LoraRank : null,
            ["lora_alpha"] = mode == "lora" ? LoraAlpha : null,
            ["lora_dropout"] = mode == "lora" ? loraDropout : null,
            ["tokens_per_s"] = Math.Round(tps, 2),
            ["s_per_step_median"] = Math.Round(median, 5),
            ["s_per_step_mean"] = Math.Round(times.Average(), 5),
            ["s_per_step_min"] = Math.Round(times.Min(), 5),
            ["trainable_params"] = nTrainable,
            ["total_params"] = total,
            ["nonembed_params"] = total - nEmbed,
            ["peak_rss_mb"] = Math.Round(ProcStatusMb("VmHWM"), 1),
            ["baseline_rss_mb"] = Math.Round(baselineRss, 1),
            ["threads"] = get_num_threads(),
            ["device"] = device.type == DeviceType.CUDA ? "cuda" : "cpu",
            ["dtype"] = dtype == ScalarType.BFloat16 ? "bfloat16" : "float32",
            ["gradient_checkpointing"] = checkpointing,
            ["loss"] = denseLoss ? "dense" : "chunked",
            ["lr"] = lr,
            ["warmup_steps"] = warmup,
            ["timed_steps"] = steps,
            ["vocab"] = s.Vocab, ["hidden"] = s.Hidden, ["layers"] = s.Layers, ["heads"] = s.Heads,
            ["intermediate"] = s.Intermediate, ["seq"] = s.Seq, ["batch"] = s.Batch, ["kv_heads"] = s.KvHeads, ["tied"] = s.Tied,
            ["glibc_tunables"] = Environment.GetEnvironmentVariable("GLIBC_TUNABLES"),
            ["flops_factor"] = factor,
            ["achieved_gflops"] = Math.Round(factor * flopsParams * tps / 1e9, 2),
            ["loss_first"] = Math.Round(losses[0], 4),
            ["loss_last"] = Math.Round(losses[^1], 4),
        };
        return result.ToJsonString();
    }

    internal static ModelConfig ModelConfigFor(Shape s) => new()
    {
        Family = ModelFamily.Llama,
        ModelType = "llama",
        Architecture = "LlamaForCausalLM",
        VocabSize = s.Vocab,
        HiddenSize = s.Hidden,
        IntermediateSize = s.Intermediate,
        NumLayers = s.Layers,
        NumHeads = s.Heads,
        NumKeyValueHeads = s.KvHeads,
        HeadDim = s.Hidden / s.Heads,
        MaxPositions = s.Seq,
        NormEps = RmsEps,
        RopeTheta = RopeTheta,
        TieWordEmbeddings = s.Tied,
        AttentionBias = s.AttentionBias,
        InitializerRange = 0.02,
    };

    /// <summary>The model's device and parameter dtype: float32 on the CPU (as the worker computes there), bf16 too on CUDA.</summary>
    static (Device Device, ScalarType DType) ParseDevice(string device, string dtype)
    {
        var type = dtype switch
        {
            "float32" => ScalarType.Float32,
            "bfloat16" => ScalarType.BFloat16,
            _ => throw new UsageException($"--dtype must be float32 or bfloat16, got '{dtype}'"),
        };
        return device switch
        {
            "cpu" => (CPU, type),
            "cuda" when cuda.is_available() => (CUDA, type),
            "cuda" => throw new UsageException("--device cuda: TorchSharp sees no CUDA device (is a CUDA libtorch on the library path?)"),
            _ => throw new UsageException($"--device must be cpu or cuda, got '{device}'"),
        };
    }

    /// <summary>
    /// Causal-LM cross-entropy (token t predicts t+1) over the whole <c>[B, T, V]</c> logits at once, as torch_ref.py's
    /// <c>lm_loss</c> (<c>--dense-loss</c>; the trainer forms them in blocks, <see cref="ChunkedLmLoss"/>). The logits and their
    /// shifted copy are released before backward: autograd keeps what it needs (log-softmax), and the dispose
    /// scope would otherwise hold [B, T, V] twice until the step ends.
    /// </summary>
    static Tensor LmLoss(CausalLM model, Tensor ids, int vocab)
    {
        using var logits = model.forward(ids);
        using var shifted = logits[.., ..^1];
        using var flat = shifted.reshape(-1, vocab);
        using var next = ids[.., 1..];
        using var targets = next.reshape(-1);
        return nn.functional.cross_entropy(flat, targets);
    }

    /// <summary>A <c>kB</c> field of <c>/proc/self/status</c> in MB (VmHWM = peak resident set).</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal static double ProcStatusMb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return double.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        return double.NaN;
    }
}
