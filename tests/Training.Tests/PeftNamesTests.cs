using LoraService.Training.Lora;

namespace LoraService.Training.Tests;

public sealed class PeftNamesTests
{
    [Theory]
    [InlineData("model.layers.0.self_attn.q_proj", PeftNames.LoraA, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")]
    [InlineData("model.layers.0.self_attn.q_proj", PeftNames.LoraB, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")]
    [InlineData("transformer.h.0.attn.c_attn", PeftNames.LoraA, "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight")]
    [InlineData("transformer.h.0.attn.c_attn", PeftNames.LoraB, "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight")]
    [InlineData("model.layers.1.self_attn.qkv_proj", PeftNames.LoraA, "base_model.model.model.layers.1.self_attn.qkv_proj.lora_A.weight")]  // Phi-3
    [InlineData("model.layers.1.mlp.gate_up_proj", PeftNames.LoraB, "base_model.model.model.layers.1.mlp.gate_up_proj.lora_B.weight")]    // Phi-3
    public void Tensor_keys_are_the_ones_peft_writes_and_parse_back(string modulePath, string factor, string key)
    {
        Assert.Equal(key, PeftNames.TensorKey(modulePath, factor));
        Assert.Equal((modulePath, factor), PeftNames.ParseTensorKey(key));
    }

    [Fact]
    public void In_memory_keys_with_the_adapter_name_parse_to_the_module()
    {
        Assert.Equal(("model.layers.3.mlp.down_proj", PeftNames.LoraB),
            PeftNames.ParseTensorKey("base_model.model.model.layers.3.mlp.down_proj.lora_B.default.weight"));
    }

    [Theory]
    [InlineData("model.layers.0.self_attn.q_proj.lora_A.weight")]          // no base_model.model. prefix
    [InlineData("base_model.model.model.layers.0.self_attn.q_proj.weight")] // a base weight
    [InlineData("base_model.model.model.layers.0.self_attn.q_proj.lora_embedding_A")]
    public void Keys_that_name_no_lora_factor_parse_to_null(string key) => Assert.Null(PeftNames.ParseTensorKey(key));
}
