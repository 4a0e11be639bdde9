using LoraService.Training.Models;

namespace LoraService.Training.Tests;

public sealed class ModelConfigTests
{
    [Fact]
    public void Llama_defaults_follow_transformers()
    {
        var c = ModelConfig.Parse("""
            {"model_type":"mistral","architectures":["MistralForCausalLM"],"vocab_size":100,"hidden_size":64,
             "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":8,"num_key_value_heads":null,
             "rope_parameters":{"rope_type":"default","rope_theta":500000.0},"dtype":"bfloat16","eos_token_id":[2,7]}
            """);
        Assert.Equal(ModelFamily.Llama, c.Family);
        Assert.Equal(8, c.NumKeyValueHeads);
        Assert.Equal(8, c.HeadDim);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.Equal([2, 7], c.EosTokenIds);
        Assert.False(c.TieWordEmbeddings);
        Assert.False(c.AttentionBias);
    }

    [Fact]
    public void Llama_explicit_fields_win()
    {
        var c = ModelConfig.Parse("""
            {"model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":1,"head_dim":32,"rope_theta":1234.0,"attention_bias":true,
             "mlp_bias":true,"tie_word_embeddings":true,"torch_dtype":"float16","eos_token_id":5}
            """);
        Assert.Equal((1, 32, 1234.0), (c.NumKeyValueHeads, c.HeadDim, c.RopeTheta));
        Assert.True(c.AttentionBias && c.MlpBias && c.TieWordEmbeddings);
        Assert.Equal("float16", c.TorchDtype);
        Assert.Equal([5], c.EosTokenIds);
    }

    [Fact]
    public void Qwen2_has_qkv_bias_by_default()
    {
        var c = ModelConfig.Load(Path.Combine(Golden.Dir("qwen2-f32"), "config.json"));
        Assert.True(c.AttentionBias);
        Assert.Equal(1_000_000.0, c.RopeTheta);
    }

    [Fact]
    public void Gpt2_fields_map_and_n_inner_null_means_four_times_n_embd()
    {
        var c = ModelConfig.Load(Path.Combine(Golden.Dir("gpt2-f32"), "config.json"));
        Assert.Equal(ModelFamily.Gpt2, c.Family);
        Assert.Equal((64, 2, 4, 64, 256), (c.HiddenSize, c.NumLayers, c.NumHeads, c.MaxPositions, c.IntermediateSize));
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(1e-5, c.NormEps);
    }

    [Fact]
    public void Unsupported_architecture_is_named()
    {
        var e = Assert.Throws<UnsupportedArchitectureException>(() =>
            ModelConfig.Parse("""{"model_type":"falcon","architectures":["FalconForCausalLM"]}"""));
        Assert.Contains("falcon", e.Message);
    }

    [Fact]
    public void Hf_json_round_trips_through_the_parser()
    {
        foreach (var config in new[] { ModelFactory.TinyLlama(), ModelFactory.TinyGpt2() })
        {
            var parsed = ModelConfig.Parse(config.ToHfJson());
            Assert.Equal(config with { EosTokenIds = [] }, parsed with { EosTokenIds = [] });
            Assert.Equal(config.EosTokenIds, parsed.EosTokenIds);
        }
    }
}
