using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>GPT2LMHeadModel: Conv1D projections (weights <c>[in, out]</c>), learned positions, gelu_new, head tied to <c>wte</c>.</summary>
public sealed class Gpt2LMHeadModel : CausalLM
{
    readonly Gpt2Model transformer;

    public Gpt2LMHeadModel(ModelConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base("GPT2LMHeadModel", config)
    {
        transformer = new Gpt2Model(config, device, dtype);
        RegisterComponents();
    }

    public override Tensor Hidden(Tensor ids, KvCache? cache, Tensor? attentionMask = null, Tensor? positionIds = null) =>
        transformer.Forward(ids, cache, attentionMask, positionIds, CheckpointsLayers(cache));

    public override Tensor Head(Tensor h) => nn.functional.linear(h, transformer.Wte.Weight);

    // Hub files come with or without the "transformer." prefix; some carry causal-mask buffers.
    public override string NormaliseKey(string key) =>
        key.StartsWith("transformer.", StringComparison.Ordinal) || key == "lm_head.weight" ? key : "transformer." + key;

    public override bool IsIgnorableKey(string key) =>
        key == "lm_head.weight" || key.EndsWith(".attn.bias", StringComparison.Ordinal) || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal);
}

sealed class Gpt2Model : nn.Module
{
    readonly TokenEmbedding wte, wpe;
    readonly ModuleList<Gpt2Block> h;
    readonly LayerNorm ln_f;
    readonly int maxPositions;

    public TokenEmbedding Wte => wte;

    public Gpt2Model(ModelConfig c, Device? device, ScalarType dtype) : base("GPT2Model")
    {
        maxPositions = c.MaxPositions;
        wte = new TokenEmbedding(c.VocabSize, c.HiddenSize, device, dtype);
        wpe = new TokenEmbedding(c.MaxPositions, c.HiddenSize, device, dtype);
        h = nn.ModuleList(Enumerable.Range(0, c.NumLayers).Select(i => new Gpt2Block(c, i, device, dtype)).ToArray());
        ln_f = nn.LayerNorm(c.HiddenSize, c.NormEps, device: device, dtype: dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor ids, KvCache? cache, Tensor? attentionMask, Tensor? positionIds, bool checkpointLayers)
    {
        var past = cache?.Length ?? 0;
        var t = ids.shape[1];
        var end = positionIds is null ? past + t : positionIds.max().item<long>() + 1;
        if (end > maxPositions)
            throw new ArgumentException($"sequence of {end} tokens exceeds n_positions = {maxPositions}");
        var x = wte.call(ids).add(wpe.call(positionIds ?? arange(past, past + t, ScalarType.Int64, ids.device)));
        foreach (var block in h)
            x = checkpointLayers
                ? CheckpointedLayer.Apply(block.Step, x, [attentionMask], block.TrainableParameters())
                : block.Forward(x, cache, attentionMask);
        return ln_f.call(x);
    }
}

sealed class Gpt2Block : nn.Module
{
    readonly LayerNorm ln_1, ln_2;
    readonly Gpt2Attention attn;
    readonly Gpt2Mlp mlp;

    public Gpt2Block(ModelConfig c, int layer, Device? device, ScalarType dtype) : base("GPT2Block")
    {
        ln_1 = nn.LayerNorm(c.HiddenSize, c.NormEps, device: device, dtype: dtype);
        attn = new Gpt2Attention(c, layer, device, dtype);
        ln_2 = nn.LayerNorm(c.HiddenSize, c.NormEps, device: device, dtype: dtype);
        mlp = new Gpt2Mlp(c, device, dtype);
        RegisterComponents();
    }

    /// <summary>The block as a checkpointed step: constants are [attention mask].</summary>
    public Tensor Step(Tensor x, IReadOnlyList<Tensor?> constants) => Forward(x, null, constants[0]);

    public Tensor[] TrainableParameters() => parameters().Where(p => p.requires_grad).ToArray();

    public Tensor Forward(Tensor x, KvCache? cache, Tensor? attentionMask)
    {
        x = x.add(attn.Forward(ln_1.call(x), cache, attentionMask));
        return x.add(mlp.call(ln_2.call(x)));
    }
}

sealed class Gpt2Attention : nn.Module
{
    readonly Projection c_attn, c_proj;
    readonly int heads, headDim, hidden, layer;

    public Gpt2Attention(ModelConfig c, int layer, Device? device, ScalarType dtype) : base("GPT2Attention")
    {
        (heads, headDim, hidden, this.layer) = (c.NumHeads, c.HeadDim, c.HiddenSize, layer);
        c_attn = new Projection(hidden, 3 * hidden, hasBias: true, fanInFanOut: true, device: device, dtype: dtype, uninitialised: true);
        c_proj = new Projection(hidden, hidden, hasBias: true, fanInFanOut: true, device: device, dtype: dtype, uninitialised: true);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, KvCache? cache, Tensor? attentionMask)
    {
        var (b, t) = (x.shape[0], x.shape[1]);
        var qkv = c_attn.call(x).split(hidden, dim: 2);
        var q = qkv[0].view(b, t, heads, headDim).transpose(1, 2);
        var k = qkv[1].view(b, t, heads, headDim).transpose(1, 2);
        var v = qkv[2].view(b, t, heads, headDim).transpose(1, 2);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v);
        var y = Attention.Causal(q, k, v, attentionMask);
        return c_proj.call(y.transpose(1, 2).reshape(b, t, hidden));
    }
}

sealed class Gpt2Mlp : nn.Module<Tensor, Tensor>
{
    readonly Projection c_fc, c_proj;

    public Gpt2Mlp(ModelConfig c, Device? device, ScalarType dtype) : base("GPT2MLP")
    {
        c_fc = new Projection(c.HiddenSize, c.IntermediateSize, hasBias: true, fanInFanOut: true, device: device, dtype: dtype, uninitialised: true);
        c_proj = new Projection(c.IntermediateSize, c.HiddenSize, hasBias: true, fanInFanOut: true, device: device, dtype: dtype, uninitialised: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => c_proj.call(Activations.GeluTanh(c_fc.call(x)));
}
