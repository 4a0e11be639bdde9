using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>LlamaForCausalLM (also Mistral and Qwen2): RMSNorm, RoPE (rotate-half), SwiGLU, grouped-query attention.</summary>
public sealed class LlamaForCausalLM : CausalLM
{
    readonly LlamaModel model;
    readonly Projection? lm_head;

    public LlamaForCausalLM(ModelConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base("LlamaForCausalLM", config)
    {
        model = new LlamaModel(config, device, dtype);
        if (!config.TieWordEmbeddings)
            lm_head = new Projection(config.HiddenSize, config.VocabSize, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor Forward(Tensor ids, KvCache? cache, Tensor? attentionMask = null)
    {
        var h = model.Forward(ids, cache, attentionMask);
        return lm_head is null ? nn.functional.linear(h, model.EmbedTokens.weight!) : lm_head.call(h);
    }

    public override bool IsIgnorableKey(string key) =>
        (lm_head is null && key == "lm_head.weight") || key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);
}

sealed class LlamaModel : nn.Module
{
    readonly Embedding embed_tokens;
    readonly ModuleList<LlamaDecoderLayer> layers;
    readonly RmsNorm norm;
    readonly ModelConfig config;

    public Embedding EmbedTokens => embed_tokens;

    public LlamaModel(ModelConfig config, Device? device, ScalarType dtype) : base("LlamaModel")
    {
        this.config = config;
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize, device: device, dtype: dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumLayers).Select(i => new LlamaDecoderLayer(config, i, device, dtype)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.NormEps, device, dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor ids, KvCache? cache, Tensor? attentionMask)
    {
        var past = cache?.Length ?? 0;
        var (cos, sin) = Rope.CosSin(config.HeadDim, config.RopeTheta, past, ids.shape[1], ids.device);
        var h = embed_tokens.call(ids);
        foreach (var layer in layers)
            h = layer.Forward(h, cos.to_type(h.dtype), sin.to_type(h.dtype), cache, attentionMask);
        return norm.call(h);
    }
}

sealed class LlamaDecoderLayer : nn.Module
{
    readonly LlamaAttention self_attn;
    readonly LlamaMlp mlp;
    readonly RmsNorm input_layernorm;
    readonly RmsNorm post_attention_layernorm;

    public LlamaDecoderLayer(ModelConfig config, int index, Device? device, ScalarType dtype) : base("LlamaDecoderLayer")
    {
        self_attn = new LlamaAttention(config, index, device, dtype);
        mlp = new LlamaMlp(config, device, dtype);
        input_layernorm = new RmsNorm(config.HiddenSize, config.NormEps, device, dtype);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.NormEps, device, dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, Tensor? attentionMask)
    {
        x = x.add(self_attn.Forward(input_layernorm.call(x), cos, sin, cache, attentionMask));
        return x.add(mlp.call(post_attention_layernorm.call(x)));
    }
}

sealed class LlamaAttention : nn.Module
{
    readonly Projection q_proj, k_proj, v_proj, o_proj;
    readonly int heads, kvHeads, headDim, layer;

    public LlamaAttention(ModelConfig c, int layer, Device? device, ScalarType dtype) : base("LlamaAttention")
    {
        (heads, kvHeads, headDim, this.layer) = (c.NumHeads, c.NumKeyValueHeads, c.HeadDim, layer);
        q_proj = new Projection(c.HiddenSize, heads * headDim, c.AttentionBias, device: device, dtype: dtype);
        k_proj = new Projection(c.HiddenSize, kvHeads * headDim, c.AttentionBias, device: device, dtype: dtype);
        v_proj = new Projection(c.HiddenSize, kvHeads * headDim, c.AttentionBias, device: device, dtype: dtype);
        // Llama's attention_bias also covers o_proj; Qwen2 (no attention_bias key) has biases on q/k/v only.
        o_proj = new Projection(heads * headDim, c.HiddenSize, c.AttentionBias && c.ModelType != "qwen2", device: device, dtype: dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, Tensor? attentionMask)
    {
        var (b, t) = (x.shape[0], x.shape[1]);
        var q = q_proj.call(x).view(b, t, heads, headDim).transpose(1, 2);
        var k = k_proj.call(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        var v = v_proj.call(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        q = Rope.Apply(q, cos, sin);
        k = Rope.Apply(k, cos, sin);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v);
        var rep = heads / kvHeads;
        var y = Attention.Causal(q, Attention.RepeatKv(k, rep), Attention.RepeatKv(v, rep), attentionMask);
        return o_proj.call(y.transpose(1, 2).reshape(b, t, heads * headDim));
    }
}

sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    readonly Projection gate_proj, up_proj, down_proj;

    public LlamaMlp(ModelConfig c, Device? device, ScalarType dtype) : base("LlamaMLP")
    {
        gate_proj = new Projection(c.HiddenSize, c.IntermediateSize, c.MlpBias, device: device, dtype: dtype);
        up_proj = new Projection(c.HiddenSize, c.IntermediateSize, c.MlpBias, device: device, dtype: dtype);
        down_proj = new Projection(c.IntermediateSize, c.HiddenSize, c.MlpBias, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        down_proj.call(nn.functional.silu(gate_proj.call(x)).mul(up_proj.call(x)));
}

/// <summary>HF LlamaRMSNorm: normalise in float32, scale by the weight in the input dtype.</summary>
sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly double eps;

    public RmsNorm(int size, double eps, Device? device, ScalarType dtype) : base("RMSNorm")
    {
        this.eps = eps;
        weight = new Parameter(ones([size], dtype, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var x32 = x.to_type(ScalarType.Float32);
        var normed = x32.mul(x32.pow(2).mean([-1], keepdim: true).add(eps).rsqrt());
        return weight.mul(normed.to_type(x.dtype));
    }
}

/// <summary>Rotary position embedding with the HF rotate-half convention.</summary>
static class Rope
{
    public static (Tensor Cos, Tensor Sin) CosSin(int headDim, double theta, long start, long length, Device device)
    {
        var invFreq = pow(theta, arange(0, headDim, 2, ScalarType.Int64, device).to_type(ScalarType.Float32).div(headDim)).reciprocal();
        var positions = arange(start, start + length, ScalarType.Int64, device).to_type(ScalarType.Float32);
        var freqs = outer(positions, invFreq);
        var emb = cat([freqs, freqs], -1);
        return (emb.cos(), emb.sin());
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.shape[^1] / 2;
        var x1 = x[.., .., .., ..(int)half];
        var x2 = x[.., .., .., (int)half..];
        var rotated = cat([x2.neg(), x1], -1);
        return x.mul(cos).add(rotated.mul(sin));
    }
}
