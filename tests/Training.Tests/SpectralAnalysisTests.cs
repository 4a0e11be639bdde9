using LoraService.Training.Lora;
using LoraService.Training.Models;
using LoraService.Training.Spectral;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class SpectralAnalysisTests
{
    [Fact]
    public void Singular_values_from_the_factors_equal_svdvals_of_the_materialised_update()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var a = randn(6, 40);
        var b = randn(30, 6);
        const double scale = 1.5;

        var fromFactors = SpectralAnalysis.LoraSingularValues(a, b, scale);
        var direct = linalg.svdvals(b.matmul(a).mul(scale).to_type(ScalarType.Float64)).data<double>().Take(6).ToArray();

        Assert.Equal(6, fromFactors.Length);
        for (var i = 0; i < 6; i++)
            Assert.Equal(direct[i], fromFactors[i], direct[0] * 1e-5);
    }

    [Fact]
    public void Rank90_on_known_spectra()
    {
        // σ² = 9,1,1,1 (total 12, 90% = 10.8): 9 and 10 fall short, 11 reaches it.
        Assert.Equal(3, SpectralAnalysis.Rank90([3, 1, 1, 1]));
        // σ² = 100, 1: the first alone holds 99%.
        Assert.Equal(1, SpectralAnalysis.Rank90([10, 1]));
        // Equal spectrum of 10: nine values hold exactly 90%.
        Assert.Equal(9, SpectralAnalysis.Rank90(Enumerable.Repeat(2.0, 10).ToArray()));
        Assert.Equal(0, SpectralAnalysis.Rank90([0, 0]));
    }

    [Fact]
    public void Full_fine_tune_report_uses_the_weight_difference()
    {
        using var scope = NewDisposeScope();
        var config = ModelFactory.TinyLlama(layers: 1);
        using var baseModel = ModelFactory.CreateRandom(config, seed: 1);
        using var tuned = ModelFactory.CreateRandom(config, seed: 1);
        // Give q_proj a delta with spectrum [3, 1, 1, 1] built from orthonormal factors.
        var (u, _) = linalg.qr(randn(64, 4, dtype: ScalarType.Float64));
        var (v, _) = linalg.qr(randn(64, 4, dtype: ScalarType.Float64));
        var delta = u.matmul(diag(tensor(new[] { 3.0, 1, 1, 1 }))).matmul(v.t()).to_type(ScalarType.Float32);
        var q = tuned.Projections().Single(p => p.Path == "model.layers.0.self_attn.q_proj").Module;
        using (no_grad())
            q.Weight.add_(delta);

        var report = SpectralAnalysis.ForFullFineTune(tuned, baseModel);

        Assert.Equal(7, report.Count);
        var entry = report.Single(e => e.ModulePath == "model.layers.0.self_attn.q_proj");
        Assert.Equal((0, "self_attn.q_proj", 3), (entry.Layer, entry.Module, entry.Rank90));
        Assert.Equal(3.0, entry.TopSingularValues[0], 1e-4);
        Assert.Equal(Math.Sqrt(12), entry.FrobeniusNorm, 1e-4);
        Assert.All(report.Where(e => e != entry), e => Assert.Equal(0, e.FrobeniusNorm));
    }

    [Fact]
    public void Lora_report_matches_an_independent_decomposition_of_each_adapted_module()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyGpt2(), seed: 1);
        LoraModel.Apply(model, new LoraConfig(4, 8, [LoraConfig.AllLinear]));
        manual_seed(2);
        using (no_grad())
            foreach (var b in LoraModel.LoraBParameters(model))
                b.copy_(randn_like(b));

        var report = SpectralAnalysis.ForLora(model);

        Assert.Equal(8, report.Count);
        var mlpProj = report.Single(e => e.ModulePath == "transformer.h.1.mlp.c_proj");
        Assert.Equal((1, "mlp.c_proj"), (mlpProj.Layer, mlpProj.Module));
        // Each entry against ΔW = s·B·A decomposed here: its rank90 by definition, its top σ, and at most r non-zero σ.
        foreach (var entry in report)
        {
            var delta = model.Projections().Single(p => p.Path == entry.ModulePath).Module.DeltaWeight();
            var sigma = IndependentCheck.SingularValues(delta);
            Assert.Equal(IndependentCheck.Rank90(sigma), entry.Rank90);
            Assert.Equal(sigma[0], entry.TopSingularValues[0], 1e-4 * sigma[0]);
            Assert.All(sigma.Skip(4), x => Assert.True(x <= 1e-5 * sigma[0], $"σ beyond r = 4: {x}"));
        }
        var q = model.Projections().Single(p => p.Path == "transformer.h.1.mlp.c_proj").Module;
        Assert.Equal(q.DeltaWeight().to_type(ScalarType.Float64).norm().item<double>(), mlpProj.FrobeniusNorm, 1e-3);
    }
}
