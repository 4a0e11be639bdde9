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
        var llama = ModelFactory.TinyLlama();
        ModelConfig[] configs =
        [
            llama, ModelFactory.TinyGpt2(),
            llama with { ModelType = "mistral", Architecture = "MistralForCausalLM", SlidingWindow = 8 },
            llama with { ModelType = "qwen3", Architecture = "Qwen3ForCausalLM", HeadDim = 32 },
            llama with { ModelType = "phi3", Architecture = "Phi3ForCausalLM", SlidingWindow = 2047 },
            // Gemma 2 with none of its defaults: each field must be written, or a reload silently takes the default.
            llama with
            {
                ModelType = "gemma2", Architecture = "Gemma2ForCausalLM", Activation = "gelu_pytorch_tanh", HeadDim = 24,
                TieWordEmbeddings = true, AttentionSoftcap = 40, FinalSoftcap = 20, QueryPreAttnScalar = 24, SlidingWindow = 8,
            },
        ];
        foreach (var config in configs)
        {
            var parsed = ModelConfig.Parse(config.ToHfJson());
            Assert.Equal(config with { EosTokenIds = [] }, parsed with { EosTokenIds = [] });
            Assert.Equal(config.EosTokenIds, parsed.EosTokenIds);
        }
    }

    const string LlamaBase = """
        "model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4
        """;

    static ModelConfig Llama(string extraFields) => ModelConfig.Parse("{" + LlamaBase + "," + extraFields + "}");

    [Theory]
    [InlineData("\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}", "rope_scaling.rope_type", "yarn")]
    [InlineData("\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1],\"long_factor\":[2]}", "rope_scaling.rope_type", "longrope")]
    [InlineData("\"rope_scaling\":{\"type\":\"su\"}", "rope_scaling.rope_type", "su")]
    [InlineData("\"rope_parameters\":{\"rope_type\":\"yarn\",\"factor\":4.0,\"rope_theta\":10000}", "rope_scaling.rope_type", "yarn")]
    [InlineData("\"hidden_act\":\"gelu\"", "hidden_act", "gelu")]
    [InlineData("\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4}", "quantization_config", "gptq")]
    [InlineData("\"partial_rotary_factor\":0.5", "partial_rotary_factor", "0.5")]
    [InlineData("\"use_sliding_window\":true,\"sliding_window\":4096", "use_sliding_window", "true")]
    [InlineData("\"layer_types\":[\"sliding_attention\",\"full_attention\"]", "layer_types", "sliding_attention")]
    [InlineData("\"attn_logit_softcapping\":50.0", "attn_logit_softcapping", "50")]
    [InlineData("\"final_logit_softcapping\":30.0", "final_logit_softcapping", "30")]
    [InlineData("\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"default\"}}", "rope_parameters", "per layer")]
    public void Fields_that_change_the_math_and_are_not_implemented_are_refused_by_name(string field, string name, string value)
    {
        var e = Assert.Throws<UnsupportedArchitectureException>(() => Llama(field));
        Assert.Equal(name, e.Field);
        Assert.Contains(name, e.Message);
        Assert.Contains(value, e.Message);
    }

    [Fact]
    public void Unknown_model_type_names_the_field() =>
        Assert.Equal("model_type", Assert.Throws<UnsupportedArchitectureException>(() => ModelConfig.Parse("""{"model_type":"gemma3"}""")).Field);

    [Theory]
    [InlineData("llama-rope-llama3", "llama3", 8.0)]
    [InlineData("llama-rope-linear", "linear", 4.0)]
    public void Rope_scaling_is_read_from_either_key_spelling(string golden, string type, double factor)
    {
        var c = ModelConfig.Load(Path.Combine(Golden.Dir(golden), "config.json"));
        Assert.Equal((type, factor), (c.RopeScaling!.Type, c.RopeScaling.Factor));
    }

    [Fact]
    public void Dynamic_and_default_rope_parse_and_round_trip()
    {
        var c = Llama("""
            "rope_scaling":{"type":"dynamic","factor":2.0}
            """);
        Assert.Equal(new RopeScaling(RopeScaling.Dynamic, 2.0), c.RopeScaling);
        Assert.Equal(c, ModelConfig.Parse(c.ToHfJson()));
        Assert.Null(Llama("""
            "rope_scaling":{"rope_type":"default"}
            """).RopeScaling);
    }

    [Fact]
    public void Sliding_window_is_read_for_mistral_and_phi3_only()
    {
        Assert.Equal(64, ModelConfig.Load(Path.Combine(Golden.Dir("mistral-f32"), "config.json")).SlidingWindow);
        Assert.Null(ModelConfig.Load(Path.Combine(Golden.Dir("phi3-f32"), "config.json")).SlidingWindow);
        Assert.Null(ModelConfig.Load(Path.Combine(Golden.Dir("qwen3-f32"), "config.json")).SlidingWindow); // use_sliding_window false
    }
}
