using System.Text.Json.Nodes;
using LoraService.Training.Checkpoints;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>
/// Gemma 2 has no golden checkpoint: a tiny one is written here in the Hugging Face layout and the engine's logits are
/// compared with a forward pass written out below from transformers' modeling_gemma2.py definitions, in float64.
/// </summary>
public sealed class Gemma2Tests
{
    const int Vocab = 96, Hidden = 32, Intermediate = 48, Layers = 3, Heads = 4, KvHeads = 2, HeadDim = 16, Window = 4;
    const double Eps = 1e-6, Theta = 10000, QueryScalar = 24, AttnCap = 5.0, FinalCap = 2.0;

    static readonly JsonObject Config = new()
    {
        ["architectures"] = new JsonArray("Gemma2ForCausalLM"), ["model_type"] = "gemma2", ["vocab_size"] = Vocab,
        ["hidden_size"] = Hidden, ["intermediate_size"] = Intermediate, ["num_hidden_layers"] = Layers,
        ["num_attention_heads"] = Heads, ["num_key_value_heads"] = KvHeads, ["head_dim"] = HeadDim,
        ["hidden_activation"] = "gelu_pytorch_tanh", ["max_position_embeddings"] = 64, ["rms_norm_eps"] = Eps,
        ["rope_theta"] = Theta, ["attention_bias"] = false, ["query_pre_attn_scalar"] = QueryScalar,
        ["sliding_window"] = Window, ["attn_logit_softcapping"] = AttnCap, ["final_logit_softcapping"] = FinalCap,
        ["tie_word_embeddings"] = true, ["torch_dtype"] = "float32",
    };

    internal static Dictionary<string, Tensor> Weights()
    {
        var g = new Generator(11);
        Tensor Matrix(long rows, long cols) => normal(0, 0.2, [rows, cols], generator: g);
        Tensor Norm() => normal(0, 0.1, [Hidden], generator: g);
        var w = new Dictionary<string, Tensor> { ["model.embed_tokens.weight"] = Matrix(Vocab, Hidden), ["model.norm.weight"] = Norm() };
        for (var l = 0; l < Layers; l++)
        {
            var p = $"model.layers.{l}.";
            w[p + "self_attn.q_proj.weight"] = Matrix(Heads * HeadDim, Hidden);
            w[p + "self_attn.k_proj.weight"] = Matrix(KvHeads * HeadDim, Hidden);
            w[p + "self_attn.v_proj.weight"] = Matrix(KvHeads * HeadDim, Hidden);
            w[p + "self_attn.o_proj.weight"] = Matrix(Hidden, Heads * HeadDim);
            w[p + "mlp.gate_proj.weight"] = Matrix(Intermediate, Hidden);
            w[p + "mlp.up_proj.weight"] = Matrix(Intermediate, Hidden);
            w[p + "mlp.down_proj.weight"] = Matrix(Hidden, Intermediate);
            foreach (var norm in new[] { "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm" })
                w[p + norm + ".weight"] = Norm();
        }
        return w;
    }

    internal static string WriteCheckpoint(TempDir dir, Dictionary<string, Tensor> weights)
    {
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), Config.ToJsonString());
        SafetensorsWriter.Write(Path.Combine(dir.Path, CheckpointLoader.SingleFile), weights);
        return dir.Path;
    }

    // modeling_gemma2.py, written out: Gemma2RMSNorm, embedding × √hidden, rotate-half RoPE, eager attention with
    // query_pre_attn_scalar and soft-capping, sliding window on even layers, sandwich norms, gelu_pytorch_tanh MLP, tied head, final capping.
    static Tensor Reference(Dictionary<string, Tensor> weights, long[] ids)
    {
        var w = weights.ToDictionary(p => p.Key, p => p.Value.to_type(ScalarType.Float64));
        Tensor Rms(Tensor x, string name) => x.mul(x.pow(2).mean([-1], keepdim: true).add(Eps).rsqrt()).mul(w[name].add(1));
        Tensor Linear(Tensor x, string name) => x.matmul(w[name].t());
        Tensor Gelu(Tensor x) => x.mul(0.5).mul(x.add(x.pow(3).mul(0.044715)).mul(Math.Sqrt(2 / Math.PI)).tanh().add(1));
        var t = ids.Length;
        var angles = tensor(Enumerable.Range(0, t).SelectMany(p => Enumerable.Range(0, HeadDim / 2)
            .Select(i => p / Math.Pow(Theta, 2.0 * i / HeadDim))).ToArray()).reshape(t, HeadDim / 2);
        var (cos, sin) = (cat([angles.cos(), angles.cos()], 1), cat([angles.sin(), angles.sin()], 1));
        Tensor Rope(Tensor x) => x.mul(cos).add(cat([x[.., (HeadDim / 2)..].neg(), x[.., ..(HeadDim / 2)]], 1).mul(sin));

        var x = w["model.embed_tokens.weight"][tensor(ids)].mul(Math.Sqrt(Hidden));
        for (var l = 0; l < Layers; l++)
        {
            var p = $"model.layers.{l}.";
            var h = Rms(x, p + "input_layernorm.weight");
            var (q, k, v) = (Linear(h, p + "self_attn.q_proj.weight"), Linear(h, p + "self_attn.k_proj.weight"), Linear(h, p + "self_attn.v_proj.weight"));
            var heads = new List<Tensor>();
            for (var head = 0; head < Heads; head++)
            {
                var kv = head / (Heads / KvHeads);
                var qh = Rope(q[.., (head * HeadDim)..((head + 1) * HeadDim)]);
                var kh = Rope(k[.., (kv * HeadDim)..((kv + 1) * HeadDim)]);
                var scores = qh.matmul(kh.t()).div(Math.Sqrt(QueryScalar)).div(AttnCap).tanh().mul(AttnCap);
                var hidden = zeros(t, t, ScalarType.Bool);
                for (var i = 0; i < t; i++)
                    for (var j = 0; j < t; j++)
                        hidden[i, j] = tensor(j > i || (l % 2 == 0 && i - j >= Window));
                heads.Add(scores.masked_fill(hidden, double.NegativeInfinity).softmax(-1).matmul(v[.., (kv * HeadDim)..((kv + 1) * HeadDim)]));
            }
            x = x.add(Rms(Linear(cat(heads, 1), p + "self_attn.o_proj.weight"), p + "post_attention_layernorm.weight"));
            var m = Rms(x, p + "pre_feedforward_layernorm.weight");
            m = Linear(Gelu(Linear(m, p + "mlp.gate_proj.weight")).mul(Linear(m, p + "mlp.up_proj.weight")), p + "mlp.down_proj.weight");
            x = x.add(Rms(m, p + "post_feedforward_layernorm.weight"));
        }
        var logits = Rms(x, "model.norm.weight").matmul(w["model.embed_tokens.weight"].t());
        return logits.div(FinalCap).tanh().mul(FinalCap).unsqueeze(0);
    }

    static readonly long[] Ids = [5, 17, 3, 88, 41, 9, 60, 2, 33, 71, 14, 50];

    [Fact]
    public void Loads_with_no_missing_keys_and_matches_the_written_out_forward()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var weights = Weights();
        using var model = CheckpointLoader.Load(WriteCheckpoint(dir, weights), out var report);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        model.eval();
        using var _ = no_grad();
        var logits = model.call(tensor(Ids).unsqueeze(0));
        var expected = Reference(weights, Ids);

        var maxError = logits.to_type(ScalarType.Float64).sub(expected).abs().max().item<double>();
        Assert.True(maxError < 2e-5, $"max |Δlogit| = {maxError}");
        Assert.True(expected.abs().max().item<double>() > 1.5); // the final capping is in play
    }

    [Fact]
    public void Cached_generation_matches_the_full_forward_across_the_window()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var model = CheckpointLoader.Load(WriteCheckpoint(dir, Weights()));
        model.eval();
        using var _ = no_grad();
        var full = model.call(tensor(Ids).unsqueeze(0));
        using var cache = new KvCache(Layers);
        var steps = new List<Tensor> { model.Forward(tensor(Ids[..6]).unsqueeze(0), cache) };
        foreach (var id in Ids[6..])
            steps.Add(model.Forward(tensor(new[] { id }).unsqueeze(0), cache));
        Assert.True(cat(steps, 1).allclose(full, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Config_reads_gemma2_fields_and_defaults_and_lora_targets_the_llama_projections()
    {
        var c = ModelConfig.Parse(Config.ToJsonString());
        Assert.Equal((AttnCap, FinalCap, QueryScalar, Window), (c.AttentionSoftcap, c.FinalSoftcap, c.QueryPreAttnScalar, c.SlidingWindow));
        Assert.Equal([Window, null, Window], Enumerable.Range(0, Layers).Select(c.WindowOf));
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(LoraModel.LlamaTargets, LoraModel.KnownTargets(c));

        var bare = ModelConfig.Parse("""
            {"model_type":"gemma2","vocab_size":10,"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,
             "num_attention_heads":1,"final_logit_softcapping":null}
            """);
        Assert.Equal((50.0, (double?)null, 256.0, 256, 4096), (bare.AttentionSoftcap, bare.FinalSoftcap, bare.QueryPreAttnScalar, bare.HeadDim, bare.SlidingWindow));
        var e = Assert.Throws<UnsupportedArchitectureException>(() => ModelConfig.Parse("""
            {"model_type":"gemma2","vocab_size":10,"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,
             "num_attention_heads":1,"hidden_activation":"relu"}
            """));
        Assert.Equal("hidden_activation", e.Field);
    }
}
