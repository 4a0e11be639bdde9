using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>LlamaForCausalLM (also Mistral, Qwen2/3, Phi-3 and Gemma 2): RMSNorm, RoPE (rotate-half), gated MLP, grouped-query attention.</summary>
public sealed class LlamaForCausalLM : CausalLM
{
    readonly LlamaModel model;
    readonly Projection? lm_head;

    public LlamaForCausalLM(ModelConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base("LlamaForCausalLM", config)
    {
        model = new LlamaModel(config, device, dtype);
        if (!config.TieWordEmbeddings)
            lm_head = new Projection(config.HiddenSize, config.VocabSize, hasBias: false, device: device, dtype: dtype, uninitialised: true);
        RegisterComponents();
    }

    public override Tensor Hidden(Tensor ids, KvCache? cache, Tensor? attentionMask = null, Tensor? positionIds = null) =>
        model.Forward(ids, cache, attentionMask, positionIds, CheckpointsLayers(cache));

    public override Tensor Head(Tensor h)
    {
        var logits = lm_head is null ? nn.functional.linear(h, model.EmbedTokens.Weight) : lm_head.call(h);
        if (Config.FinalSoftcap is not { } cap)
            return logits;
        using (logits)
        using (var scaled = logits.div(cap))
        using (var capped = scaled.tanh())
            return capped.mul(cap);
    }

    public override bool IsIgnorableKey(string key) =>
        (lm_head is null && key == "lm_head.weight") || key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);
}

sealed class LlamaModel : nn.Module
{
    readonly TokenEmbedding embed_tokens;
    readonly ModuleList<LlamaDecoderLayer> layers;
    readonly RmsNorm norm;
    readonly ModelConfig config;

    public TokenEmbedding EmbedTokens => embed_tokens;

    public LlamaModel(ModelConfig config, Device? device, ScalarType dtype) : base("LlamaModel")
    {
        this.config = config;
        embed_tokens = new TokenEmbedding(config.VocabSize, config.HiddenSize, device, dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumLayers).Select(i => new LlamaDecoderLayer(config, i, device, dtype)).ToArray());
        norm = RmsNorm.For(config, config.HiddenSize, device, dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor ids, KvCache? cache, Tensor? attentionMask, Tensor? positionIds, bool checkpointLayers)
    {
        var past = cache?.Length ?? 0;
        var h = embed_tokens.call(ids);
        if (config.IsGemma2)
        {
            // √hidden rounded to the activations' dtype first, as transformers does (it matters in bf16).
            using var embedded = h;
            using var normalizer = tensor(Math.Sqrt(config.HiddenSize), embedded.dtype, embedded.device);
            h = embedded.mul(normalizer);
        }
        var (cos32, sin32) = positionIds is null
            ? Rope.CosSin(config, past, ids.shape[1], ids.device)
            : Rope.CosSin(config, positionIds, positionIds.max().item<long>() + 1);
        using (cos32)
        using (sin32)
        using (var cos = cos32.to_type(h.dtype))
        using (var sin = sin32.to_type(h.dtype))
        {
            foreach (var layer in layers)
            {
                var next = checkpointLayers
                    ? CheckpointedLayer.Apply(layer.Step, h, [cos, sin, attentionMask], layer.TrainableParameters())
                    : layer.Forward(h, cos, sin, cache, attentionMask);
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
    // Gemma 2 normalises the attention and MLP outputs as well (post_attention_layernorm then acts on the attention output).
    readonly RmsNorm? pre_feedforward_layernorm, post_feedforward_layernorm;

    public LlamaDecoderLayer(ModelConfig config, int index, Device? device, ScalarType dtype) : base("LlamaDecoderLayer")
    {
        self_attn = new LlamaAttention(config, index, device, dtype);
        mlp = new LlamaMlp(config, device, dtype);
        input_layernorm = RmsNorm.For(config, config.HiddenSize, device, dtype);
        post_attention_layernorm = RmsNorm.For(config, config.HiddenSize, device, dtype);
        if (config.IsGemma2)
        {
            pre_feedforward_layernorm = RmsNorm.For(config, config.HiddenSize, device, dtype);
            post_feedforward_layernorm = RmsNorm.For(config, config.HiddenSize, device, dtype);
        }
        RegisterComponents();
    }

    /// <summary>The layer as a checkpointed step: constants are [cos, sin, attention mask].</summary>
    public Tensor Step(Tensor x, IReadOnlyList<Tensor?> constants) => Forward(x, constants[0]!, constants[1]!, null, constants[2]);

    public Tensor[] TrainableParameters() => parameters().Where(p => p.requires_grad).ToArray();

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, Tensor? attentionMask)
    {
        using var tmp = new Temps();
        var attn = tmp.Add(self_attn.Forward(tmp.Add(input_layernorm.call(x)), cos, sin, cache, attentionMask));
        if (post_feedforward_layernorm is null)
        {
            var h = tmp.Add(x.add(attn));
            return h.add(tmp.Add(mlp.call(tmp.Add(post_attention_layernorm.call(h)))));
        }
        var residual = tmp.Add(x.add(tmp.Add(post_attention_layernorm.call(attn))));
        var ff = tmp.Add(mlp.call(tmp.Add(pre_feedforward_layernorm!.call(residual))));
        return residual.add(tmp.Add(post_feedforward_layernorm.call(ff)));
    }
}

sealed class LlamaAttention : nn.Module
{
    readonly Projection? q_proj, k_proj, v_proj, qkv_proj;
    readonly Projection o_proj;
    readonly RmsNorm? q_norm, k_norm;
    readonly int heads, kvHeads, headDim, layer;
    readonly int? window;
    readonly double? scale, softcap;

    public LlamaAttention(ModelConfig c, int layer, Device? device, ScalarType dtype) : base("LlamaAttention")
    {
        (heads, kvHeads, headDim, this.layer, window) = (c.NumHeads, c.NumKeyValueHeads, c.HeadDim, layer, c.WindowOf(layer));
        (scale, softcap) = (c.QueryPreAttnScalar is { } s ? 1 / Math.Sqrt(s) : null, c.AttentionSoftcap);
        if (c.FusedProjections)
            qkv_proj = new Projection(c.HiddenSize, (heads + 2 * kvHeads) * headDim, c.AttentionBias, device: device, dtype: dtype, uninitialised: true);
        else
        {
            q_proj = new Projection(c.HiddenSize, heads * headDim, c.AttentionBias, device: device, dtype: dtype, uninitialised: true);
            k_proj = new Projection(c.HiddenSize, kvHeads * headDim, c.AttentionBias, device: device, dtype: dtype, uninitialised: true);
            v_proj = new Projection(c.HiddenSize, kvHeads * headDim, c.AttentionBias, device: device, dtype: dtype, uninitialised: true);
        }
        // Llama's attention_bias also covers o_proj; Qwen2 (no attention_bias key) has biases on q/k/v only.
        o_proj = new Projection(heads * headDim, c.HiddenSize, c.AttentionBias && c.ModelType != "qwen2", device: device, dtype: dtype, uninitialised: true);
        if (c.QkNorm)
        {
            q_norm = RmsNorm.For(c, headDim, device, dtype);
            k_norm = RmsNorm.For(c, headDim, device, dtype);
        }
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, Tensor? attentionMask)
    {
        var (b, t) = (x.shape[0], x.shape[1]);
        using var tmp = new Temps();
        Tensor Heads(Tensor flat, int n, RmsNorm? norm)
        {
            var split = tmp.Add(flat.reshape(b, t, n, headDim));
            return tmp.Add((norm is null ? split : tmp.Add(norm.call(split))).transpose(1, 2));
        }
        var (qFlat, kFlat, vFlat) = Qkv(x, tmp);
        var q = tmp.Add(Rope.Apply(Heads(qFlat, heads, q_norm), cos, sin));
        var k = tmp.Add(Rope.Apply(Heads(kFlat, kvHeads, k_norm), cos, sin));
        var v = Heads(vFlat, kvHeads, null);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v); // owned by the cache: not temporaries
        var rep = heads / kvHeads;
        if (rep > 1)
            (k, v) = (tmp.Add(Attention.RepeatKv(k, rep)), tmp.Add(Attention.RepeatKv(v, rep)));
        var y = tmp.Add(Attention.Causal(q, k, v, attentionMask, window, scale, softcap));
        return o_proj.call(tmp.Add(tmp.Add(y.transpose(1, 2)).reshape(b, t, heads * headDim)));
    }

    /// <summary>Queries, keys and values <c>[B, T, n·head_dim]</c>; Phi-3's fused rows are q, then k, then v.</summary>
    (Tensor Q, Tensor K, Tensor V) Qkv(Tensor x, Temps tmp)
    {
        if (qkv_proj is null)
            return (tmp.Add(q_proj!.call(x)), tmp.Add(k_proj!.call(x)), tmp.Add(v_proj!.call(x)));
        var qkv = tmp.Add(qkv_proj.call(x));
        var (qSize, kvSize) = (heads * headDim, kvHeads * headDim);
        return (tmp.Add(qkv.narrow(-1, 0, qSize)), tmp.Add(qkv.narrow(-1, qSize, kvSize)), tmp.Add(qkv.narrow(-1, qSize + kvSize, kvSize)));
    }
}

sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    readonly Projection? gate_proj, up_proj, gate_up_proj;
    readonly Projection down_proj;
    readonly int intermediate;
    readonly bool geluTanh;

    public LlamaMlp(ModelConfig c, Device? device, ScalarType dtype) : base("LlamaMLP")
    {
        intermediate = c.IntermediateSize;
        geluTanh = c.Activation == "gelu_pytorch_tanh";
        if (c.FusedProjections)
            gate_up_proj = new Projection(c.HiddenSize, 2 * c.IntermediateSize, c.MlpBias, device: device, dtype: dtype, uninitialised: true);
        else
        {
            gate_proj = new Projection(c.HiddenSize, c.IntermediateSize, c.MlpBias, device: device, dtype: dtype, uninitialised: true);
            up_proj = new Projection(c.HiddenSize, c.IntermediateSize, c.MlpBias, device: device, dtype: dtype, uninitialised: true);
        }
        down_proj = new Projection(c.IntermediateSize, c.HiddenSize, c.MlpBias, device: device, dtype: dtype, uninitialised: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var tmp = new Temps();
        Tensor gateIn, upOut;
        if (gate_up_proj is not null)
        {
            // Phi-3's fused rows: gate first, then up.
            var fused = tmp.Add(gate_up_proj.call(x));
            (gateIn, upOut) = (tmp.Add(fused.narrow(-1, 0, intermediate)), tmp.Add(fused.narrow(-1, intermediate, intermediate)));
        }
        else
            (gateIn, upOut) = (tmp.Add(gate_proj!.call(x)), tmp.Add(up_proj!.call(x)));
        var gate = tmp.Add(geluTanh ? Activations.GeluTanh(gateIn) : nn.functional.silu(gateIn));
        return down_proj.call(tmp.Add(gate.mul(upOut)));
    }
}
