using System.Text.RegularExpressions;
using LoraService.Training.Lora;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Spectral;

/// <summary>Spectrum of one weight update ΔW. <see cref="Module"/> is the path inside the layer, e.g. <c>self_attn.q_proj</c>.</summary>
public sealed record SpectralEntry(string ModulePath, int? Layer, string Module, int Rank90, double[] TopSingularValues, double FrobeniusNorm);

/// <summary>
/// Singular values of fine-tuning updates (the paper's spectral analysis):
/// <c>rank90 = min k : Σ_{i≤k} σ_i² ≥ 0.9·Σ σ_i²</c>.
/// </summary>
public static partial class SpectralAnalysis
{
    public const int DefaultTop = 16;

    /// <summary>
    /// σ(s·B·A) without forming the <c>[out, in]</c> matrix: B = Q_B·R_B and Aᵀ = Q_A·R_A give
    /// s·B·A = Q_B·(s·R_B·R_Aᵀ)·Q_Aᵀ, and the orthonormal factors leave the r×r core's singular values unchanged.
    /// </summary>
    public static double[] LoraSingularValues(Tensor a, Tensor b, double scale)
    {
        using var scope = NewDisposeScope();
        var (_, rb) = linalg.qr(b.detach().to_type(ScalarType.Float64));
        var (_, ra) = linalg.qr(a.detach().to_type(ScalarType.Float64).t());
        return linalg.svdvals(rb.matmul(ra.t())).mul(Math.Abs(scale)).data<double>().ToArray();
    }

    public static double[] SingularValues(Tensor delta)
    {
        using var scope = NewDisposeScope();
        return linalg.svdvals(delta.detach().to_type(ScalarType.Float64)).data<double>().ToArray();
    }

    /// <summary>Smallest k whose top-k singular values hold <paramref name="fraction"/> of Σσ² (0 for a zero update).</summary>
    public static int Rank90(IReadOnlyList<double> singularValues, double fraction = 0.9)
    {
        var sorted = singularValues.OrderDescending().ToArray();
        var total = sorted.Sum(s => s * s);
        if (total == 0)
            return 0;
        double cumulative = 0;
        for (var k = 0; k < sorted.Length; k++)
        {
            cumulative += sorted[k] * sorted[k];
            // Relative tolerance so that an exact 90% split is not lost to rounding.
            if (cumulative >= fraction * total * (1 - 1e-12))
                return k + 1;
        }
        return sorted.Length;
    }

    public static SpectralEntry Entry(string path, IReadOnlyList<double> singularValues, int top = DefaultTop)
    {
        var sorted = singularValues.OrderDescending().ToArray();
        var (layer, module) = SplitPath(path);
        return new SpectralEntry(path, layer, module, Rank90(sorted), sorted.Take(top).ToArray(), Math.Sqrt(sorted.Sum(s => s * s)));
    }

    /// <summary>One entry per adapted projection of a LoRA model.</summary>
    public static IReadOnlyList<SpectralEntry> ForLora(CausalLM model, int top = DefaultTop) =>
        LoraModel.Adapted(model)
            .Select(p => Entry(p.Path, LoraSingularValues(p.Module.LoraA!, p.Module.LoraB!, p.Module.Lora!.Scale), top))
            .ToList();

    /// <summary>One entry per projection: ΔW = W_ft − W_0 between a fully fine-tuned model and its base.</summary>
    public static IReadOnlyList<SpectralEntry> ForFullFineTune(CausalLM tuned, CausalLM baseModel, int top = DefaultTop)
    {
        var baseWeights = baseModel.Projections().ToDictionary(p => p.Path, p => p.Module.Weight);
        var entries = new List<SpectralEntry>();
        foreach (var (path, projection) in tuned.Projections())
        {
            if (!baseWeights.TryGetValue(path, out var w0))
                throw new ArgumentException($"the base model has no module '{path}'");
            using var scope = NewDisposeScope();
            var delta = projection.Weight.detach().to_type(ScalarType.Float64).sub(w0.detach().to(projection.Weight.device).to_type(ScalarType.Float64));
            entries.Add(Entry(path, SingularValues(delta), top));
        }
        return entries;
    }

    static (int? Layer, string Module) SplitPath(string path)
    {
        var match = LayerPattern().Match(path);
        return match.Success ? (int.Parse(match.Groups[1].Value), match.Groups[2].Value) : (null, path);
    }

    [GeneratedRegex(@"(?:^|\.)(?:layers|h)\.(\d+)\.(.+)$")]
    private static partial Regex LayerPattern();
}
