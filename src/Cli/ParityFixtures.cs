using System.Text.Json;
using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Cli;

/// <summary>
/// Tiny checkpoints of each family, written by this engine, with a PEFT adapter and a merged export of each, and the
/// logits this engine computes for all three. <c>scripts/device/hf_parity.py</c> loads them with transformers and
/// PEFT where those are installed (the device machine) and compares: the check of Gemma 2 against transformers that
/// the golden set cannot give, of sliding windows shorter than the sequence, and of adapters in PEFT itself.
/// </summary>
static class ParityFixtures
{
    public const string Verb = "parity-fixtures";
    const int SequenceLength = 24;

    static readonly ModelConfig Llama = ModelFactory.TinyLlama();

    /// <summary>Each case differs from plain Llama in what transformers computes differently.</summary>
    static readonly (string Name, ModelConfig Config, bool RsLora)[] Cases =
    [
        ("llama-rope-llama3-headdim-bias", Llama with
        {
            HeadDim = 24, AttentionBias = true, MlpBias = true, RopeTheta = 500000,
            RopeScaling = new RopeScaling(RopeScaling.Llama3, 8.0, LowFreqFactor: 1.0, HighFreqFactor: 4.0, OriginalMaxPositions: 16),
        }, false),
        ("llama-tied-rslora", Llama with { TieWordEmbeddings = true }, true),
        ("mistral-window-8", Llama with { ModelType = "mistral", Architecture = "MistralForCausalLM", SlidingWindow = 8 }, false),
        ("qwen3", Llama with { ModelType = "qwen3", Architecture = "Qwen3ForCausalLM", HeadDim = 32 }, false),
        ("phi3", Llama with { ModelType = "phi3", Architecture = "Phi3ForCausalLM" }, false),
        ("gemma2-window-8", Llama with
        {
            ModelType = "gemma2", Architecture = "Gemma2ForCausalLM", Activation = "gelu_pytorch_tanh", HeadDim = 24,
            TieWordEmbeddings = true, AttentionSoftcap = 40, FinalSoftcap = 20, QueryPreAttnScalar = 24, SlidingWindow = 8,
            NumLayers = 3,
        }, false),
    ];

    public static int Run(Args a)
    {
        var outDir = a.Required("out");
        a.EnsureAllUsed();
        foreach (var (name, config, rsLora) in Cases)
        {
            Write(Path.Combine(outDir, name), config, rsLora);
            Console.WriteLine($"wrote {name}");
        }
        return 0;
    }

    static void Write(string directory, ModelConfig config, bool rsLora)
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Create(config);
        Randomise(model, seed: 7);
        model.eval();
        var ids = randint(0, config.VocabSize, [1, SequenceLength], ScalarType.Int64, generator: new Generator(11)).DetachFromDisposeScope();

        var baseDir = Path.Combine(directory, "base");
        CheckpointExporter.Save(model, baseDir);
        var baseLogits = Logits(model, ids);

        LoraModel.Apply(model, new LoraConfig(4, 8, [LoraConfig.AllLinear], UseRsLora: rsLora));
        manual_seed(13);
        using (no_grad())
            foreach (var b in LoraModel.LoraBParameters(model))
                b.copy_(randn_like(b).mul(0.1)); // B starts at zero; a zero adapter would compare nothing
        model.eval();
        AdapterExporter.Save(model, Path.Combine(directory, "adapter"), "../base");
        var adaptedLogits = Logits(model, ids);
        var mergedDir = Path.Combine(directory, "merged");
        CheckpointExporter.Save(model, mergedDir, baseDir);
        using var merged = CheckpointLoader.Load(mergedDir);
        merged.eval();

        var expected = new JsonObject
        {
            ["model_type"] = config.ModelType,
            ["ids"] = new JsonArray(ids[0].data<long>().Select(i => (JsonNode?)i).ToArray()),
            ["base_logits"] = baseLogits,
            ["adapted_logits"] = adaptedLogits,
            ["merged_logits"] = Logits(merged, ids),
        };
        File.WriteAllText(Path.Combine(directory, "expected.json"), expected.ToJsonString());
    }

    /// <summary>As the golden checkpoints are drawn: matrices and biases N(0, 0.1), norm weights 1 ± 0.1, so a missing bias, a wrong norm or a swapped projection shows.</summary>
    static void Randomise(CausalLM model, long seed)
    {
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
            if (p.dim() == 1 && name.Contains("norm", StringComparison.Ordinal))
                p.normal_(1.0, 0.1, generator);
            else
                p.normal_(0, 0.1, generator);
    }

    static JsonArray Logits(CausalLM model, Tensor ids)
    {
        using var _ = no_grad();
        using var logits = model.call(ids);
        return new JsonArray(Enumerable.Range(0, (int)logits.shape[1])
            .Select(t => (JsonNode?)new JsonArray(logits[0, t].data<float>().Select(v => (JsonNode?)v).ToArray()))
            .ToArray());
    }
}
