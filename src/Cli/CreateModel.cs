using LoraService.Tokenization;
using LoraService.Training.Models;

namespace LoraService.Cli;

static class CreateModel
{
    public static int Run(Args a)
    {
        var arch = a.Required("arch");
        var outDir = a.Required("out");
        var hidden = a.Int("hidden") ?? 64;
        var layers = a.Int("layers") ?? 2;
        var heads = a.Int("heads") ?? 4;
        var kvHeads = a.Int("kv-heads");
        var intermediate = a.Int("intermediate");
        var vocab = a.Int("vocab");
        var positions = a.Int("positions") ?? 256;
        var seed = a.Int("seed") ?? 0;
        var dtype = a.Str("dtype") ?? "float32";
        a.EnsureAllUsed();
        if (dtype is not ("float32" or "bfloat16" or "float16"))
            throw new UsageException($"--dtype must be float32, bfloat16 or float16, got '{dtype}'");
        if (hidden <= 0 || layers <= 0 || heads <= 0 || hidden % heads != 0)
            throw new UsageException($"--hidden ({hidden}) must be a positive multiple of --heads ({heads}); --layers must be positive");

        var defaultVocab = ByteLevelTokenizer.MinVocabSize;
        ModelConfig config = arch switch
        {
            "llama" => ModelFactory.TinyLlama(hidden, layers, heads, kvHeads ?? heads, intermediate ?? hidden * 8 / 3, positions, vocab ?? defaultVocab),
            "gpt2" when kvHeads is not null && kvHeads != heads => throw new UsageException("gpt2 has no grouped-query attention (--kv-heads)"),
            "gpt2" => ModelFactory.TinyGpt2(hidden, layers, heads, positions, vocab ?? defaultVocab) with { IntermediateSize = intermediate ?? 4 * hidden },
            _ => throw new UsageException($"--arch must be llama or gpt2, got '{arch}'"),
        };
        if (config.NumHeads % config.NumKeyValueHeads != 0)
            throw new UsageException($"--heads ({heads}) must be a multiple of --kv-heads ({config.NumKeyValueHeads})");
        ModelFactory.WriteCheckpoint(outDir, config with { TorchDtype = dtype }, seed);
        Console.WriteLine($"wrote {config.Architecture} ({config.NumLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}) to {Path.GetFullPath(outDir)}");
        return 0;
    }
}
