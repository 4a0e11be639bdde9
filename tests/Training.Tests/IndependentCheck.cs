using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using LoraService.Tokenization;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>
/// Checks of exported files that bypass the engine's adapter import, LoRA layers, evaluators and spectral code:
/// ΔW = s·B·A is formed here from adapter_model.safetensors and adapter_config.json, merged into the base weights read
/// from model.safetensors, and the loss and singular values are computed here. (Linked into EndToEnd.Tests too.)
/// </summary>
internal static class IndependentCheck
{
    /// <summary>ΔW = s·B·A (float64) per adapted module path, oriented like the base weight ([in, out] with fan_in_fan_out).</summary>
    public static Dictionary<string, Tensor> AdapterDeltas(string adapterDirectory)
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapterDirectory, "adapter_config.json")));
        var root = config.RootElement;
        var r = root.GetProperty("r").GetInt32();
        var alpha = root.GetProperty("lora_alpha").GetDouble();
        var scale = root.GetProperty("use_rslora").GetBoolean() ? alpha / Math.Sqrt(r) : alpha / r;
        var fanInFanOut = root.GetProperty("fan_in_fan_out").GetBoolean();
        var factors = SafetensorsReader.ReadAll(Path.Combine(adapterDirectory, "adapter_model.safetensors"), ScalarType.Float64);
        const string prefix = "base_model.model.", loraA = ".lora_A.weight";
        return factors.Keys.Where(k => k.EndsWith(loraA, StringComparison.Ordinal)).ToDictionary(k => k[prefix.Length..^loraA.Length], k =>
        {
            var delta = factors[k[..^loraA.Length] + ".lora_B.weight"].matmul(factors[k]).mul(scale);
            return fanInFanOut ? delta.t() : delta;
        });
    }

    /// <summary>The base checkpoint with W0 + ΔW (W0 read from its model.safetensors) in every adapted module's weight.</summary>
    public static CausalLM MergedModel(string modelDirectory, string adapterDirectory)
    {
        var model = CheckpointLoader.Load(modelDirectory);
        var parameters = model.state_dict();
        using var scope = NewDisposeScope();
        using var reader = SafetensorsReader.Open(Path.Combine(modelDirectory, CheckpointLoader.SingleFile));
        using (no_grad())
            foreach (var (path, delta) in AdapterDeltas(adapterDirectory))
                parameters[$"{path}.weight"].copy_(reader.Read($"{path}.weight", ScalarType.Float64) + delta);
        model.eval();
        return model;
    }

    /// <summary>
    /// The first <paramref name="maxRows"/> prompt/completion rows of a JSONL file as the documented rule builds them:
    /// [bos] prompt completion eos, only completion and eos scored, cut on the right to <paramref name="maxLength"/>;
    /// rows left with no scored token after position 0 are dropped.
    /// </summary>
    public static List<(int[] Ids, bool[] Scored)> PromptCompletionRows(string jsonl, HfTokenizer tokenizer, int maxRows, int maxLength)
    {
        var rows = new List<(int[], bool[])>();
        foreach (var line in File.ReadLines(jsonl).Where(l => l.Trim().Length > 0).Take(maxRows))
        {
            using var row = JsonDocument.Parse(line);
            var ids = new List<int>();
            var scored = new List<bool>();
            void Add(IEnumerable<int> tokens, bool score) { foreach (var t in tokens) { ids.Add(t); scored.Add(score); } }
            if (tokenizer.AddBos && tokenizer.Special.BosId is { } bos) Add([bos], false);
            Add(tokenizer.Encode(row.RootElement.GetProperty("prompt").GetString()!), false);
            Add(tokenizer.Encode(row.RootElement.GetProperty("completion").GetString()!), true);
            if (tokenizer.Special.EosId is { } eos) Add([eos], true);
            var n = Math.Min(ids.Count, maxLength);
            if (scored.Take(n).Skip(1).Any(s => s)) rows.Add((ids.Take(n).ToArray(), scored.Take(n).ToArray()));
        }
        return rows;
    }

    /// <summary>Mean over all scored tokens t ≥ 1 of −log softmax(logits at t − 1)[token t], one row at a time (no padding).</summary>
    public static double MeanTokenLoss(nn.Module<Tensor, Tensor> model, IEnumerable<(int[] Ids, bool[] Scored)> rows)
    {
        double total = 0;
        var count = 0;
        using var _ = no_grad();
        foreach (var (ids, scored) in rows)
        {
            using var scope = NewDisposeScope();
            var logits = model.call(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0))[0];
            var logProbs = nn.functional.log_softmax(logits.to_type(ScalarType.Float64), -1);
            for (var t = 1; t < ids.Length; t++)
            {
                if (!scored[t]) continue;
                total -= logProbs[t - 1, ids[t]].item<double>();
                count++;
            }
        }
        return total / count;
    }

    /// <summary>All singular values of ΔW by a full SVD of the matrix, largest first.</summary>
    public static double[] SingularValues(Tensor delta)
    {
        using var sigma = linalg.svdvals(delta.to_type(ScalarType.Float64));
        return sigma.data<double>().ToArray();
    }

    /// <summary>rank90 by its definition: the smallest k whose k largest σ² hold at least 90 % of Σσ².</summary>
    public static int Rank90(double[] descending)
    {
        var total = descending.Sum(s => s * s);
        var (k, held) = (0, 0.0);
        while (held < 0.9 * total) held += descending[k] * descending[k++];
        return k;
    }
}
