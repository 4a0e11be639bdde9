using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>Rotary position embedding with the HF rotate-half convention, scaled as the config says.</summary>
public static class Rope
{
    /// <summary>cos and sin <c>[length, head_dim]</c> (float32) for positions <paramref name="start"/>…<paramref name="start"/>+<paramref name="length"/>-1.</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(ModelConfig config, long start, long length, Device device)
    {
        using var tmp = new Temps();
        var invFreq = tmp.Add(InverseFrequencies(config, start + length, device));
        var positions = tmp.Add(tmp.Add(arange(start, start + length, ScalarType.Int64, device)).to_type(ScalarType.Float32));
        var freqs = tmp.Add(outer(positions, invFreq));
        var emb = tmp.Add(cat([freqs, freqs], -1));
        return (emb.cos(), emb.sin());
    }

    /// <summary>
    /// cos and sin <c>[B, 1, T, head_dim]</c> (float32) for each row's own <paramref name="positions"/> <c>[B, T]</c> (int64), as
    /// transformers computes them from <c>position_ids</c>: a left-padded row's first real token is at position 0.
    /// The values at a position equal those of <see cref="CosSin(ModelConfig, long, long, Device)"/>.
    /// </summary>
    /// <param name="sequenceLength">The longest row's length (its last position + 1), for dynamic NTK scaling.</param>
    public static (Tensor Cos, Tensor Sin) CosSin(ModelConfig config, Tensor positions, long sequenceLength)
    {
        using var tmp = new Temps();
        var invFreq = tmp.Add(InverseFrequencies(config, sequenceLength, positions.device));
        var freqs = tmp.Add(tmp.Add(tmp.Add(positions.to_type(ScalarType.Float32)).unsqueeze(-1)).mul(invFreq));
        var emb = tmp.Add(tmp.Add(cat([freqs, freqs], -1)).unsqueeze(1));
        return (emb.cos(), emb.sin());
    }

    /// <summary>
    /// The <c>head_dim / 2</c> inverse frequencies (float32, computed in float32 as transformers does) for a forward call whose
    /// positions end before <paramref name="sequenceLength"/>.
    /// </summary>
    public static Tensor InverseFrequencies(ModelConfig config, long sequenceLength, Device device)
    {
        var scaling = config.RopeScaling;
        var theta = config.RopeTheta;
        var dim = config.HeadDim;
        // Dynamic NTK keeps the trained frequencies up to max_position_embeddings and raises the base beyond. transformers
        // caches the longest length seen so far; computing from this call's length gives the same values for a
        // single forward pass and for generation, whose lengths only grow.
        if (scaling is { Type: RopeScaling.Dynamic } && sequenceLength > config.MaxPositions)
            theta *= Math.Pow(scaling.Factor * sequenceLength / config.MaxPositions - (scaling.Factor - 1), dim / (dim - 2.0));
        using var tmp = new Temps();
        var exponents = tmp.Add(tmp.Add(tmp.Add(arange(0, dim, 2, ScalarType.Int64, device)).to_type(ScalarType.Float32)).div(dim));
        var invFreq = tmp.Add(pow(theta, exponents)).reciprocal();
        return scaling?.Type switch
        {
            RopeScaling.Linear => Consume(invFreq, f => f.div(scaling.Factor)),
            RopeScaling.Llama3 => Consume(invFreq, f => Llama3(f, scaling)),
            _ => invFreq,
        };
    }

    static Tensor Consume(Tensor t, Func<Tensor, Tensor> f)
    {
        using (t)
            return f(t);
    }

    /// <summary>
    /// Llama 3.1's frequency scaling: wavelengths longer than original/low_freq_factor are divided by the factor, those
    /// shorter than original/high_freq_factor kept, and the band between blends the two linearly in original/wavelength.
    /// </summary>
    static Tensor Llama3(Tensor invFreq, RopeScaling s)
    {
        using var tmp = new Temps();
        double original = s.OriginalMaxPositions;
        var (longWavelength, shortWavelength) = (original / s.LowFreqFactor, original / s.HighFreqFactor);
        var wavelength = tmp.Add(tmp.Add(invFreq.reciprocal()).mul(2 * Math.PI));
        var lowScaled = tmp.Add(where(tmp.Add(wavelength.gt(longWavelength)), tmp.Add(invFreq.div(s.Factor)), invFreq));
        var blend = tmp.Add(tmp.Add(tmp.Add(tmp.Add(wavelength.reciprocal()).mul(original)).sub(s.LowFreqFactor)).div(s.HighFreqFactor - s.LowFreqFactor));
        var blended = tmp.Add(tmp.Add(tmp.Add(tmp.Add(blend.neg()).add(1)).mul(lowScaled).div(s.Factor)).add(tmp.Add(blend.mul(lowScaled))));
        var inBand = tmp.Add(tmp.Add(wavelength.ge(shortWavelength)).logical_and(tmp.Add(wavelength.le(longWavelength))));
        return where(inBand, blended, lowScaled);
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
