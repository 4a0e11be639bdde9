using System.Collections.Concurrent;
using System.Text.Json;
using LoraService.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>Keys that a checkpoint and a model disagree on, by name, and how many tensors went each way into memory.</summary>
public sealed record LoadReport(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> Ignored)
{
    public IReadOnlyDictionary<ReadRoute, int> Routes { get; init; } = new Dictionary<ReadRoute, int>();

    /// <summary>For a job's events, e.g. "169 from disk past the page cache, 145 widened in place".</summary>
    public string DescribeRoutes() => string.Join(", ", Routes.OrderByDescending(r => r.Key).Select(r => $"{r.Value} " + r.Key switch
    {
        ReadRoute.Direct => "from disk past the page cache",
        ReadRoute.InPlace => "widened in place",
        ReadRoute.Staged => "converted through a staging buffer",
        _ => "as stored",
    }));
}

public sealed class CheckpointMismatchException(string directory, LoadReport report) : Exception(
    $"{directory}: checkpoint does not match the model; missing: [{string.Join(", ", report.Missing)}]; unexpected: [{string.Join(", ", report.Unexpected)}]")
{
    public LoadReport Report { get; } = report;
}

/// <summary>
/// Loads a Hugging Face checkpoint directory (<c>config.json</c> + <c>model.safetensors</c>, or shards with
/// <c>model.safetensors.index.json</c>). Loading is a name match: every parameter must be found, and the only
/// extra keys tolerated are buffers the model is known not to keep.
/// </summary>
public static class CheckpointLoader
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    public static CausalLM Load(string directory, Device? device = null, ScalarType? dtype = null) =>
        Load(directory, out _, device, dtype);

    public static CausalLM Load(string directory, out LoadReport report, Device? device = null, ScalarType? dtype = null)
    {
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        device ??= CPU;
        var type = dtype ?? ComputeDType(device.type, config.TorchDtype);
        var model = Create(config, device, type);
        try
        {
            report = LoadWeights(model, directory);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// CPU computes in float32 (bf16 matmuls are slow and lossy there); CUDA keeps a half-precision
    /// checkpoint in its dtype (bf16-true training), with float16 promoted to bf16 for range.
    /// </summary>
    public static ScalarType ComputeDType(DeviceType device, string torchDtype) =>
        device == DeviceType.CUDA && torchDtype is "bfloat16" or "float16" ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>A model with uninitialised weights for <paramref name="config"/> (norms start at one, biases at zero); load or initialise them next.</summary>
    public static CausalLM Create(ModelConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) => config.Family switch
    {
        ModelFamily.Llama => new LlamaForCausalLM(config, device, dtype),
        ModelFamily.Gpt2 => new Gpt2LMHeadModel(config, device, dtype),
        _ => throw new UnsupportedArchitectureException($"no model for {config.Family}"),
    };

    /// <summary>The safetensors files of a checkpoint directory, single-file or sharded.</summary>
    public static IReadOnlyList<string> WeightFiles(string directory)
    {
        var single = Path.Combine(directory, SingleFile);
        if (File.Exists(single))
            return [single];
        var index = Path.Combine(directory, IndexFile);
        if (!File.Exists(index))
            throw new FileNotFoundException($"{directory}: neither {SingleFile} nor {IndexFile} exists");
        using var doc = JsonDocument.Parse(File.ReadAllText(index));
        if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new FormatException($"{index}: no weight_map object");
        var files = new List<string>();
        foreach (var entry in map.EnumerateObject())
        {
            var file = entry.Value.GetString() ?? throw new FormatException($"{index}: weight_map['{entry.Name}'] is not a file name");
            if (file.Contains('/') || file.Contains('\\') || file.Contains(".."))
                throw new FormatException($"{index}: shard name '{file}' must be a plain file name");
            if (!files.Contains(file))
                files.Add(file);
        }
        return files.Select(f => Path.Combine(directory, f)).ToList();
    }

    /// <summary>
    /// Copies checkpoint tensors into the model's parameters. Every header is checked first (names, shapes, nothing
    /// missing), so a mismatch fails before a byte of data is read; then the tensors are read one at a time, so a
    /// load never holds a second copy of the model.
    /// </summary>
    public static LoadReport LoadWeights(CausalLM model, string directory)
    {
        var parameters = model.state_dict();
        var plan = new List<(string File, string Key, Tensor Target)>();
        var loaded = new HashSet<string>();
        var unexpected = new List<string>();
        var ignored = new List<string>();
        foreach (var file in WeightFiles(directory))
        {
            using var reader = SafetensorsReader.Open(file);
            foreach (var (key, entry) in reader.Tensors)
            {
                var name = model.NormaliseKey(key);
                if (!parameters.TryGetValue(name, out var target))
                {
                    (model.IsIgnorableKey(key) ? ignored : unexpected).Add(key);
                    continue;
                }
                if (!loaded.Add(name))
                    throw new FormatException($"{directory}: '{name}' appears in more than one shard");
                if (!entry.Shape.SequenceEqual(target.shape))
                    throw new FormatException(
                        $"{file}: '{key}' has shape [{string.Join(", ", entry.Shape)}], the model expects [{string.Join(", ", target.shape)}]");
                plan.Add((file, key, target));
            }
        }
        var missing = parameters.Keys.Where(k => !loaded.Contains(k)).ToList();
        var report = new LoadReport(missing, unexpected, ignored);
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new CheckpointMismatchException(directory, report);
        return report with { Routes = CopyIn(plan) };
    }

    /// <summary>
    /// Each tensor read into its own parameter (<see cref="SafetensorsReader.BeginReadInto"/>: straight, widened in
    /// place, or staged), from the disk past the page cache for half-precision shards that are not in it
    /// (<see cref="SafetensorsReader.StartBulkRead"/>). The file side runs on a second thread, so the disk fetches the
    /// next tensor while this thread widens the last one.
    /// </summary>
    static Dictionary<ReadRoute, int> CopyIn(IReadOnlyList<(string File, string Key, Tensor Target)> plan)
    {
        var routes = new Dictionary<ReadRoute, int>();
        using var reads = new BlockingCollection<PendingRead>(boundedCapacity: 2);
        using var stop = new CancellationTokenSource();
        var fetching = Task.Run(() =>
        {
            try
            {
                Fetch(plan, reads, stop.Token);
            }
            finally
            {
                reads.CompleteAdding();
            }
        });
        try
        {
            foreach (var read in reads.GetConsumingEnumerable())
                using (read)
                {
                    read.Complete();
                    routes[read.Route] = routes.GetValueOrDefault(read.Route) + 1;
                }
        }
        catch
        {
            stop.Cancel();
            try { fetching.Wait(); } catch (AggregateException) { /* the first failure is the one to report */ }
            foreach (var read in reads)
                read.Dispose();
            throw;
        }
        fetching.GetAwaiter().GetResult();
        return routes;
    }

    static void Fetch(IReadOnlyList<(string File, string Key, Tensor Target)> plan, BlockingCollection<PendingRead> reads, CancellationToken stop)
    {
        using var _ = no_grad();
        using var staging = new StagingBuffer();
        foreach (var shard in plan.GroupBy(p => p.File))
        {
            using var reader = SafetensorsReader.Open(shard.Key);
            reader.StartBulkRead();
            foreach (var (_, key, target) in shard)
            {
                if (target.is_contiguous() && target.device_type == DeviceType.CPU)
                {
                    var read = reader.BeginReadInto(key, target, staging);
                    try
                    {
                        reads.Add(read, stop);
                    }
                    catch
                    {
                        read.Dispose();
                        throw;
                    }
                }
                else
                {
                    using var source = reader.Read(key);
                    target.copy_(source);
                }
            }
        }
    }
}
