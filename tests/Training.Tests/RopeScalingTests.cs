using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>The scaled inverse frequencies against transformers' definitions, recomputed here in double precision.</summary>
public sealed class RopeScalingTests
{
    const int HeadDim = 16;

    static ModelConfig Config(RopeScaling? scaling, double theta = 500000, int maxPositions = 128) =>
        ModelFactory.TinyLlama(heads: 4) with { RopeScaling = scaling, RopeTheta = theta, MaxPositions = maxPositions };

    static double[] Default(double theta) =>
        Enumerable.Range(0, HeadDim / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / HeadDim)).ToArray();

    static double[] Actual(ModelConfig config, long length)
    {
        using var f = Rope.InverseFrequencies(config, length, CPU);
        return f.to_type(ScalarType.Float64).data<double>().ToArray();
    }

    static void Close(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6 * expected[i], $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Linear_divides_every_frequency_by_the_factor() =>
        Close(Default(10000).Select(f => f / 4).ToArray(), Actual(Config(new RopeScaling(RopeScaling.Linear, 4), theta: 10000), 16));

    [Fact]
    public void Llama3_keeps_high_frequencies_divides_low_ones_and_blends_between()
    {
        // original 64: wavelengths under 16 are kept, over 64 divided by 8; with theta 10000 each band holds some.
        var s = new RopeScaling(RopeScaling.Llama3, 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 64);
        var plain = Default(10000);
        var expected = plain.Select(f =>
        {
            var wavelength = 2 * Math.PI / f;
            if (wavelength < 64 / 4.0) return f;
            if (wavelength > 64 / 1.0) return f / 8;
            var smooth = (64 / wavelength - 1) / (4 - 1.0);
            return (1 - smooth) * f / 8 + smooth * f;
        }).ToArray();
        Close(expected, Actual(Config(s, theta: 10000), 16));
        Assert.Contains(expected.Zip(plain), p => p.First == p.Second);
        Assert.Contains(expected.Zip(plain), p => p.First == p.Second / 8);
        Assert.Contains(expected.Zip(plain), p => p.First < p.Second && p.First > p.Second / 8);
    }

    [Fact]
    public void Dynamic_is_the_default_within_max_positions_and_raises_the_base_beyond()
    {
        var config = Config(new RopeScaling(RopeScaling.Dynamic, 2), theta: 10000, maxPositions: 32);
        Close(Default(10000), Actual(config, 32));
        var longer = 10000 * Math.Pow(2.0 * 80 / 32 - 1, HeadDim / (HeadDim - 2.0));
        Close(Default(longer), Actual(config, 80));
    }

    [Fact]
    public void Dynamic_rope_changes_logits_only_past_max_positions()
    {
        using var scope = NewDisposeScope();
        using var golden = CheckpointLoader.Load(Golden.Dir("llama-f32"));
        var config = golden.Config with { MaxPositions = 8 };
        using var plain = CheckpointLoader.Create(config);
        using var dynamic = CheckpointLoader.Create(config with { RopeScaling = new RopeScaling(RopeScaling.Dynamic, 4) });
        plain.load_state_dict(golden.state_dict());
        dynamic.load_state_dict(golden.state_dict());
        using var _ = no_grad();
        var ids = tensor(Golden.Reference("llama-f32").Ids).unsqueeze(0);
        Assert.True(dynamic.call(ids[.., ..8]).allclose(plain.call(ids[.., ..8]), rtol: 0, atol: 1e-6));
        Assert.False(dynamic.call(ids).allclose(plain.call(ids), rtol: 0, atol: 1e-2));
    }
}
