using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>Tiny models of each family made trainable, for tests that compare gradients of two computations.</summary>
static class TinyTrainableModels
{
    public static ModelConfig Config(string family, int layers) => family switch
    {
        "gpt2" => ModelFactory.TinyGpt2(layers: layers),
        "gemma2" => ModelFactory.TinyLlama(layers: layers) with
        {
            ModelType = "gemma2", Activation = "gelu_pytorch_tanh", TieWordEmbeddings = true, AttentionSoftcap = 50,
            FinalSoftcap = 30, QueryPreAttnScalar = 16, SlidingWindow = 8,
        },
        "llama-tied" => ModelFactory.TinyLlama(layers: layers) with { TieWordEmbeddings = true },
        _ => ModelFactory.TinyLlama(layers: layers),
    };

    /// <summary>LoRA r=4 on every projection with non-zero B (so A gets gradients too), or full fine-tuning.</summary>
    public static void Prepare(CausalLM model, string method, double dropout = 0.0)
    {
        if (method == "lora")
        {
            LoraModel.Apply(model, new LoraConfig(4, 8, [LoraConfig.AllLinear], dropout));
            manual_seed(2);
            using (no_grad())
                foreach (var b in LoraModel.LoraBParameters(model))
                    b.copy_(randn_like(b).mul(0.1));
        }
        else
        {
            FullFineTune.Prepare(model);
        }
        model.train();
    }
}
