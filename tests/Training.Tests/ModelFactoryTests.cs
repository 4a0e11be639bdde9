using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using LoraService.Tokenization;
using Tokenizers.DotNet;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class ModelFactoryTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Writes_a_checkpoint_in_hf_layout_that_the_loader_reads_back_exactly(bool gpt2)
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var config = gpt2 ? ModelFactory.TinyGpt2() : ModelFactory.TinyLlama();
        ModelFactory.WriteCheckpoint(dir.Path, config, seed: 11);

        foreach (var file in new[] { "config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(dir.Path, file)), file);
        var parsed = ModelConfig.Load(Path.Combine(dir.Path, "config.json"));
        Assert.Equal(config with { EosTokenIds = [] }, parsed with { EosTokenIds = [] });
        Assert.Equal(config.EosTokenIds, parsed.EosTokenIds);
        using (var reader = SafetensorsReader.Open(Path.Combine(dir.Path, "model.safetensors")))
        {
            Assert.Equal("pt", reader.Metadata["format"]);
            Assert.Equal(!gpt2, reader.Tensors.ContainsKey("lm_head.weight")); // GPT-2 ties its head; TinyLlama does not
            Assert.Equal(!gpt2, reader.Tensors.ContainsKey("model.layers.1.mlp.down_proj.weight"));
            Assert.Equal(gpt2, reader.Tensors.ContainsKey("transformer.h.1.attn.c_attn.weight"));
        }

        using var loaded = CheckpointLoader.Load(dir.Path);
        using var same = ModelFactory.CreateRandom(config, seed: 11);
        var a = loaded.state_dict();
        foreach (var (k, v) in same.state_dict())
            Assert.True(v.eq(a[k]).all().item<bool>(), k);
    }

    [Fact]
    public void Tied_llama_writes_no_head()
    {
        using var dir = new TempDir();
        ModelFactory.WriteCheckpoint(dir.Path, ModelFactory.TinyLlama() with { TieWordEmbeddings = true }, seed: 1);
        using var reader = SafetensorsReader.Open(Path.Combine(dir.Path, "model.safetensors"));
        Assert.DoesNotContain("lm_head.weight", reader.Tensors.Keys);
    }

    [Fact]
    public void Initialisation_follows_transformers()
    {
        using var scope = NewDisposeScope();
        var config = ModelFactory.TinyLlama(hidden: 128, intermediate: 256);
        using var model = ModelFactory.CreateRandom(config, seed: 3);
        var p = model.state_dict();
        Assert.True(p["model.norm.weight"].eq(1).all().item<bool>());
        Assert.True(p["model.layers.0.input_layernorm.weight"].eq(1).all().item<bool>());
        var std = p["model.layers.0.mlp.up_proj.weight"].std().item<float>();
        Assert.InRange(std, 0.019, 0.021);
        Assert.InRange(p["model.embed_tokens.weight"].std().item<float>(), 0.019, 0.021);
        using var other = ModelFactory.CreateRandom(config, seed: 4);
        var up = p["model.layers.0.mlp.up_proj.weight"];
        Assert.False(other.state_dict()["model.layers.0.mlp.up_proj.weight"].allclose(up), "seeds 3 and 4 gave the same weights");
    }

    [Fact]
    public void Tokenizer_loads_in_hf_tokenizers_and_round_trips_text()
    {
        using var dir = new TempDir();
        ModelFactory.WriteCheckpoint(dir.Path, ModelFactory.TinyGpt2(), seed: 1);
        var tokenizer = new Tokenizer(vocabPath: Path.Combine(dir.Path, "tokenizer.json"));
        var text = "Hello, world! naïve café — 1+1=2\n\ttabs";

        var ids = tokenizer.Encode(text);

        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(text).Select(b => (uint)b), ids);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal([(uint)ByteLevelTokenizer.EndOfText], tokenizer.Encode(ByteLevelTokenizer.EndOfTextToken));
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "tokenizer_config.json")));
        Assert.Equal(ByteLevelTokenizer.EndOfTextToken, config.RootElement.GetProperty("eos_token").GetString());
    }

    [Fact]
    public void A_vocab_too_small_for_the_tokenizer_is_refused()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentException>(() => ModelFactory.WriteCheckpoint(dir.Path, ModelFactory.TinyLlama(vocab: 128), seed: 1));
    }
}
