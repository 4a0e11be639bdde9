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
        using var h = model.Forward(ids, cache, attentionMask);
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
        var h = embed_tokens.call(ids);
        var (cos32, sin32) = Rope.CosSin(config.HeadDim, config.RopeTheta, past, ids.shape[1], ids.device);
        using (cos32)
        using (sin32)
        using (var cos = cos32.to_type(h.dtype))
        using (var sin = sin32.to_type(h.dtype))
        {
            foreach (var layer in layers)
            {
                var next = layer.Forward(h, cos, sin, cache, attentionMask);
                h.Dispose();
                h = next;
            }
        }
        using (h)
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
        using var tmp = new Temps();
        var attn = tmp.Add(self_attn.Forward(tmp.Add(input_layernorm.call(x)), cos, sin, cache, attentionMask));
        var h = tmp.Add(x.add(attn));
        return h.add(tmp.Add(mlp.call(tmp.Add(post_attention_layernorm.call(h)))));
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
        using var tmp = new Temps();
        Tensor Heads(Projection p, int n) => tmp.Add(tmp.Add(tmp.Add(p.call(x)).view(b, t, n, headDim)).transpose(1, 2));
        var q = tmp.Add(Rope.Apply(Heads(q_proj, heads), cos, sin));
        var k = tmp.Add(Rope.Apply(Heads(k_proj, kvHeads), cos, sin));
        var v = Heads(v_proj, kvHeads);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v); // owned by the cache: not temporaries
        var rep = heads / kvHeads;
        if (rep > 1)
            (k, v) = (tmp.Add(Attention.RepeatKv(k, rep)), tmp.Add(Attention.RepeatKv(v, rep)));
        var y = tmp.Add(Attention.Causal(q, k, v, attentionMask));
        return o_proj.call(tmp.Add(tmp.Add(y.transpose(1, 2)).reshape(b, t, heads * headDim)));
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

    public override Tensor forward(Tensor x)
    {
        using var tmp = new Temps();
        var gate = tmp.Add(nn.functional.silu(tmp.Add(gate_proj.call(x))));
        return down_proj.call(tmp.Add(gate.mul(tmp.Add(up_proj.call(x)))));
    }
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
        using var tmp = new Temps();
        var x32 = tmp.Add(x.to_type(ScalarType.Float32));
        var inv = tmp.Add(tmp.Add(tmp.Add(tmp.Add(x32.pow(2)).mean([-1], keepdim: true)).add(eps)).rsqrt());
        var normed = tmp.Add(x32.mul(inv));
        return weight.mul(tmp.Add(normed.to_type(x.dtype)));
    }
}

/// <summary>Rotary position embedding with the HF rotate-half convention.</summary>
static class Rope
{
    public static (Tensor Cos, Tensor Sin) CosSin(int headDim, double theta, long start, long length, Device device)
    {
        using var tmp = new Temps();
        var exponents = tmp.Add(tmp.Add(tmp.Add(arange(0, headDim, 2, ScalarType.Int64, device)).to_type(ScalarType.Float32)).div(headDim));
        var invFreq = tmp.Add(tmp.Add(pow(theta, exponents)).reciprocal());
        var positions = tmp.Add(tmp.Add(arange(start, start + length, ScalarType.Int64, device)).to_type(ScalarType.Float32));
        var freqs = tmp.Add(outer(positions, invFreq));
        var emb = tmp.Add(cat([freqs, freqs], -1));
        return (emb.cos(), emb.sin());
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.shape[^1] / 2;
        using var tmp = new Temps();
        var x1 = tmp.Add(x[.., .., .., ..(int)half]);
        var x2 = tmp.Add(x[.., .., .., (int)half..]);
        var rotated = tmp.Add(cat([tmp.Add(x2.neg()), x1], -1));
        return tmp.Add(x.mul(cos)).add(tmp.Add(rotated.mul(sin)));
    }
}
