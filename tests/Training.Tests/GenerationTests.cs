using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class GenerationTests
{
    static int[] GreedyWithoutCache(CausalLM model, int[] prompt, int maxNewTokens, int? eos)
    {
        using var _ = no_grad();
        var sequence = prompt.ToList();
        var generated = new List<int>();
        for (var i = 0; i < maxNewTokens; i++)
        {
            using var scope = NewDisposeScope();
            var logits = model.call(tensor(sequence.Select(t => (long)t).ToArray()).unsqueeze(0));
            var next = (int)logits[0, -1].argmax().item<long>();
            generated.Add(next);
            sequence.Add(next);
            if (next == eos)
                break;
        }
        return generated.ToArray();
    }

    [Theory]
    [InlineData("llama-f32")]
    [InlineData("gpt2-f32")]
    [InlineData("qwen2-f32")]
    [InlineData("llama-rope-llama3")]
    [InlineData("qwen3-f32")]
    [InlineData("phi3-f32")]
    public void Kv_cache_generation_equals_argmax_decoding_without_cache(string name)
    {
        using var model = CheckpointLoader.Load(Golden.Dir(name));
        model.eval();
        int[] prompt = [3, 17, 42, 99, 5];

        var cached = model.GenerateGreedy(prompt, 20, eosId: null);
        var uncached = GreedyWithoutCache(model, prompt, 20, eos: null);

        Assert.Equal(20, cached.Length);
        Assert.Equal(uncached, cached);
    }

    [Fact]
    public void Cached_logits_match_the_full_forward_position_by_position()
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(Golden.Dir("llama-gqa-tied-bf16-sharded"));
        model.eval();
        using var _ = no_grad();
        var (ids, _) = Golden.Reference("llama-gqa-tied-bf16-sharded");
        var full = model.call(tensor(ids).unsqueeze(0));
        using var cache = new KvCache(model.Config.NumLayers);
        var prefix = model.Forward(tensor(ids[..10]).unsqueeze(0), cache);
        var rest = model.Forward(tensor(ids[10..]).unsqueeze(0), cache); // several queries after a cached prefix

        Assert.True(cat([prefix, rest], 1).allclose(full, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Generation_stops_at_eos_and_includes_it()
    {
        using var model = CheckpointLoader.Load(Golden.Dir("llama-f32"));
        int[] prompt = [1, 2, 3];
        var free = model.GenerateGreedy(prompt, 10);
        var eos = free[3];
        var stopped = model.GenerateGreedy(prompt, 10, eos);
        Assert.Equal(free[..(Array.IndexOf(free, eos) + 1)], stopped);
    }
}
