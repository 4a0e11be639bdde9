using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class LoraTests
{
    static void RandomiseB(CausalLM model, long seed = 1)
    {
        manual_seed(seed);
        using var _ = no_grad();
        foreach (var b in LoraModel.LoraBParameters(model))
            b.copy_(randn_like(b).mul(0.1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Layer_output_equals_x_times_merged_weight(bool conv1d)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var projection = new Projection(12, 20, hasBias: true, fanInFanOut: conv1d);
        using (no_grad())
        {
            projection.Weight.copy_(randn_like(projection.Weight));
            projection.Bias!.copy_(randn(20));
        }
        projection.AttachLora(new LoraHyperparameters(Rank: 4, Alpha: 8));
        using (no_grad())
            projection.LoraB!.copy_(randn(20, 4));
        var x = randn(3, 5, 12);

        var w0 = conv1d ? projection.Weight.t() : projection.Weight; // [out, in]
        var expected = x.matmul(w0.add(projection.LoraB!.matmul(projection.LoraA!).mul(2.0)).t()).add(projection.Bias!);

        Assert.True(projection.call(x).allclose(expected, rtol: 1e-5, atol: 1e-5));
        Assert.True(nn.functional.linear(x, conv1d ? projection.MergedWeight().t() : projection.MergedWeight(), projection.Bias)
            .allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void A_is_kaiming_uniform_with_peft_bound_and_b_is_zero()
    {
        using var scope = NewDisposeScope();
        var projection = new Projection(256, 32, hasBias: false);
        projection.AttachLora(new LoraHyperparameters(16, 32));
        var a = projection.LoraA!;
        var bound = 1 / Math.Sqrt(256); // gain √(2/(1+5)) · √(3/fan_in)
        Assert.Equal([16L, 256L], a.shape);
        Assert.Equal([32L, 16L], projection.LoraB!.shape);
        Assert.True(a.abs().max().item<float>() <= bound);
        Assert.True(a.abs().max().item<float>() > 0.95 * bound); // uniform over the whole range, not a smaller one
        Assert.Equal(0f, projection.LoraB!.abs().sum().item<float>());
    }

    [Fact]
    public void Scale_is_alpha_over_r_or_alpha_over_sqrt_r_with_rslora()
    {
        Assert.Equal(2.0, new LoraHyperparameters(16, 32).Scale);
        Assert.Equal(8.0, new LoraHyperparameters(16, 32, UseRsLora: true).Scale);

        using var scope = NewDisposeScope();
        manual_seed(5);
        var x = randn(2, 8);
        Tensor Output(bool rs)
        {
            manual_seed(9);
            var p = new Projection(8, 8, hasBias: false);
            p.AttachLora(new LoraHyperparameters(4, 16, UseRsLora: rs));
            using (no_grad())
                p.LoraB!.fill_(0.5);
            return p.call(x); // W0 is zero, so the output is the LoRA branch alone
        }
        Assert.True(Output(rs: true).allclose(Output(rs: false).mul(2.0), rtol: 1e-5, atol: 1e-6)); // (16/√4)/(16/4) = 2
    }

    [Fact]
    public void Logits_are_unchanged_at_init()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);
        var ids = randint(0, 257, [2, 12]);
        var before = model.call(ids);
        LoraModel.Apply(model, new LoraConfig(8, 16, [LoraConfig.AllLinear]));
        Assert.True(model.call(ids).eq(before).all().item<bool>()); // B = 0: the LoRA branch adds exactly zero
        RandomiseB(model);
        Assert.False(model.call(ids).allclose(before, rtol: 0, atol: 1e-4)); // the adapter is really in the path
    }

    [Fact]
    public void Dropout_acts_on_the_lora_input_only_in_training_mode()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var p = new Projection(64, 64, hasBias: false);
        p.AttachLora(new LoraHyperparameters(8, 8, Dropout: 0.5));
        using (no_grad())
            p.LoraB!.copy_(randn(64, 8));
        var x = randn(4, 64);
        var withoutDropout = x.matmul(p.MergedWeight().t());

        p.eval();
        Assert.True(p.call(x).allclose(withoutDropout, rtol: 1e-5, atol: 1e-5));
        p.train();
        var a = p.call(x);
        var b = p.call(x);
        Assert.False(a.allclose(withoutDropout, rtol: 1e-3, atol: 1e-3));
        Assert.False(a.allclose(b, rtol: 1e-3, atol: 1e-3));
    }

    /// <summary>Equal up to float rounding relative to the tensor's scale (sums of hundreds of products).</summary>
    static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        var scale = expected.abs().max().item<float>();
        var diff = expected.sub(actual).abs().max().item<float>();
        Assert.True(diff <= 1e-5 * scale + 1e-6, $"max |diff| {diff} at scale {scale}");
    }

    [Theory]
    [InlineData(new long[] { 6 }, false, false, true)]
    [InlineData(new long[] { 3, 400 }, false, false, true)]  // 1200 rows: the masked down-projection goes in row blocks
    [InlineData(new long[] { 2, 300 }, true, true, true)]    // bias and Conv1D layout
    [InlineData(new long[] { 2, 300 }, false, false, false)] // input without grad (the first layer under LoRA)
    public void Training_dropout_matches_peft_formula_in_output_and_gradients(long[] lead, bool bias, bool conv1d,
        bool inputGrad)
    {
        // PEFT: y = W·x + s·B(A·dropout(x)). The projection keeps a bool mask and folds 1/(1-p) into s; with the
        // same seed it must draw the mask Dropout draws and give the same values and gradients.
        using var scope = NewDisposeScope();
        manual_seed(4);
        var p = new Projection(32, 24, hasBias: bias, fanInFanOut: conv1d);
        using (no_grad())
        {
            p.Weight.copy_(randn_like(p.Weight));
            p.Bias?.copy_(randn_like(p.Bias));
        }
        var settings = new LoraHyperparameters(8, 16, Dropout: 0.3);
        p.AttachLora(settings);
        using (no_grad())
            p.LoraB!.copy_(randn_like(p.LoraB!));
        p.train();
        var x = randn([.. lead, 32]).requires_grad_(inputGrad);

        manual_seed(11);
        var y = p.call(x);
        y.square().sum().backward();
        var gx = inputGrad ? x.grad!.clone() : null;
        var (ga, gb) = (p.LoraA!.grad!.clone(), p.LoraB!.grad!.clone());
        if (inputGrad)
            x.grad!.zero_();
        p.LoraA!.grad!.zero_();
        p.LoraB!.grad!.zero_();

        manual_seed(11);
        var baseOut = x.matmul(conv1d ? p.Weight : p.Weight.t());
        if (bias)
            baseOut = baseOut.add(p.Bias!);
        var reference = baseOut
            .add(Dropout(x, settings.Dropout).matmul(p.LoraA!.t()).matmul(p.LoraB!.t()).mul(settings.Scale));
        reference.square().sum().backward();

        Assert.Equal(reference.shape, y.shape);
        AssertClose(reference, y);
        if (inputGrad)
            AssertClose(x.grad!, gx!);
        else
            Assert.Null(x.grad);
        AssertClose(p.LoraA!.grad!, ga);
        AssertClose(p.LoraB!.grad!, gb);
        using (no_grad())
        {
            var merged = p.MergedWeight();
            var withoutDropout = x.matmul(conv1d ? merged : merged.t());
            if (bias)
                withoutDropout = withoutDropout.add(p.Bias!);
            Assert.False(y.allclose(withoutDropout, rtol: 1e-3, atol: 1e-3)); // dropout did act
        }
    }

    /// <summary>nn.Dropout's definition, x·m/(1-p) with m ~ Bernoulli(1-p), m drawn as uniform &lt; 1-p as the engine draws it.</summary>
    static Tensor Dropout(Tensor x, double p) => x.mul(rand_like(x).lt(1 - p)).div(1 - p);

    [Fact]
    public void Dropout_keeps_each_element_with_probability_one_minus_p()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var p = new Projection(64, 64, hasBias: false);
        p.AttachLora(new LoraHyperparameters(64, 64, Dropout: 0.3));
        using (no_grad())
        {
            p.LoraA!.copy_(eye(64));
            p.LoraB!.copy_(eye(64));
            p.Weight.zero_();
        }
        p.train();
        var y = p.call(ones(4000, 64)); // y = dropout(1) = m/(1-p) element by element
        var kept = y.ne(0).to_type(ScalarType.Float64).mean().item<double>();
        Assert.InRange(kept, 0.7 - 0.005, 0.7 + 0.005); // 256,000 draws: σ ≈ 0.0009
        Assert.Equal(1 / 0.7, y.max().item<float>(), 1e-5);
    }

    [Fact]
    public void Shared_input_gets_independent_masks_and_summed_gradients()
    {
        // q, k and v read the same x: each draws its own mask, and x's gradient is the sum over the three.
        using var scope = NewDisposeScope();
        manual_seed(5);
        var settings = new LoraHyperparameters(4, 8, Dropout: 0.25);
        var ps = Enumerable.Range(0, 3).Select(_ => new Projection(16, 16, hasBias: false)).ToList();
        foreach (var p in ps)
        {
            using (no_grad())
                p.Weight.copy_(randn_like(p.Weight));
            p.AttachLora(settings);
            using (no_grad())
                p.LoraB!.copy_(randn_like(p.LoraB!));
            p.train();
        }
        var x = randn(2, 700, 16).requires_grad_();

        manual_seed(12);
        var loss = ps.Select((p, i) => p.call(x).mul(i + 1).square().sum()).Aggregate((l, r) => l.add(r));
        loss.backward();
        var gx = x.grad!.clone();
        var grads = ps.Select(p => (p.LoraA!.grad!.clone(), p.LoraB!.grad!.clone())).ToList();
        x.grad!.zero_();
        foreach (var p in ps)
        {
            p.LoraA!.grad!.zero_();
            p.LoraB!.grad!.zero_();
        }

        manual_seed(12);
        var reference = ps.Select((p, i) => x.matmul(p.Weight.t())
                .add(Dropout(x, settings.Dropout).matmul(p.LoraA!.t()).matmul(p.LoraB!.t()).mul(settings.Scale))
                .mul(i + 1).square().sum())
            .Aggregate((l, r) => l.add(r));
        reference.backward();

        AssertClose(reference, loss);
        AssertClose(x.grad!, gx);
        for (var i = 0; i < ps.Count; i++)
        {
            AssertClose(ps[i].LoraA!.grad!, grads[i].Item1);
            AssertClose(ps[i].LoraB!.grad!, grads[i].Item2);
        }
    }

    [Fact]
    public void Base_is_frozen_and_only_a_and_b_train()
    {
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);
        var adapted = LoraModel.Apply(model, new LoraConfig(4, 8, ["q_proj", "v_proj"]));

        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                      "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"], adapted);
        var trainable = LoraModel.TrainableParameters(model).Select(p => p.Name).ToList();
        Assert.Equal(8, trainable.Count);
        Assert.All(trainable, n => Assert.True(LoraModel.IsLoraA(n) || LoraModel.IsLoraB(n), n));
        Assert.Equal(4, LoraModel.LoraBParameters(model).Count);
        Assert.All(LoraModel.LoraBParameters(model), b => Assert.Equal(4, b.shape[1]));
        Assert.All(LoraModel.LoraAParameters(model), a => Assert.Equal(4, a.shape[0]));
    }

    [Fact]
    public void All_linear_covers_every_projection_but_the_head()
    {
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);
        var adapted = LoraModel.Apply(model, new LoraConfig(4, 8, [LoraConfig.AllLinear]));
        Assert.Equal(14, adapted.Count);
        Assert.DoesNotContain("lm_head", adapted);
    }

    [Fact]
    public void Unknown_target_name_is_rejected_by_name()
    {
        using var llama = ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 1);
        var e = Assert.Throws<ArgumentException>(() => LoraModel.Apply(llama, new LoraConfig(4, 8, ["q_proj", "qkv_proj"])));
        Assert.Contains("'qkv_proj'", e.Message);
        using var gpt2 = ModelFactory.CreateRandom(ModelFactory.TinyGpt2(), seed: 1);
        e = Assert.Throws<ArgumentException>(() => LoraModel.Apply(gpt2, new LoraConfig(4, 8, ["q_proj"])));
        Assert.Contains("'q_proj'", e.Message);
        Assert.Empty(LoraModel.Adapted(gpt2)); // nothing half-applied
    }

    [Fact]
    public void Gpt2_c_proj_targets_both_attention_and_mlp_projections()
    {
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyGpt2(layers: 1), seed: 1);
        var adapted = LoraModel.Apply(model, new LoraConfig(4, 8, ["c_proj"]));
        Assert.Equal(["transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj"], adapted);
    }

    [Fact]
    public void Lora_gradients_reach_a_and_b_only()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyGpt2(), seed: 1);
        LoraModel.Apply(model, new LoraConfig(4, 8, [LoraConfig.AllLinear]));
        RandomiseB(model);
        var ids = randint(0, 257, [2, 8]);
        nn.functional.cross_entropy(model.call(ids).view(-1, 257), ids.view(-1)).backward();
        foreach (var (name, p) in model.named_parameters())
        {
            if (LoraModel.IsLoraA(name) || LoraModel.IsLoraB(name))
                Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, name);
            else
                Assert.True(p.grad is null, name);
        }
    }

    [Fact]
    public void Full_fine_tune_trains_everything_or_everything_but_embeddings()
    {
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyGpt2(), seed: 1);
        FullFineTune.Prepare(model);
        Assert.Equal(model.parameters().Count(), LoraModel.TrainableParameters(model).Count);
        FullFineTune.Prepare(model, freezeEmbeddings: true);
        var frozen = model.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).Order().ToList();
        Assert.Equal(["transformer.wpe.weight", "transformer.wte.weight"], frozen);
    }
}
