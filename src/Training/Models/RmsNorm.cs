using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// HF LlamaRMSNorm: normalise in float32, scale by the weight in the input dtype. Gemma's variant (<c>unitOffset</c>) scales
/// by (1 + weight) in float32 and casts afterwards.
/// </summary>
sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly double eps;
    readonly bool unitOffset;

    public RmsNorm(int size, double eps, Device? device, ScalarType dtype, bool unitOffset = false) : base("RMSNorm")
    {
        (this.eps, this.unitOffset) = (eps, unitOffset);
        weight = new Parameter(unitOffset ? zeros([size], dtype, device) : ones([size], dtype, device));
        RegisterComponents();
    }

    /// <summary>The norm <paramref name="config"/>'s architecture uses, over <paramref name="size"/> values.</summary>
    public static RmsNorm For(ModelConfig config, int size, Device? device, ScalarType dtype) =>
        new(size, config.NormEps, device, dtype, unitOffset: config.IsGemma2);

    public override Tensor forward(Tensor x)
    {
        using var tmp = new Temps();
        var x32 = tmp.Add(x.to_type(ScalarType.Float32));
        var inv = tmp.Add(tmp.Add(tmp.Add(tmp.Add(x32.pow(2)).mean([-1], keepdim: true)).add(eps)).rsqrt());
        var normed = tmp.Add(x32.mul(inv));
        if (!unitOffset)
            return weight.mul(tmp.Add(normed.to_type(x.dtype)));
        var scale = tmp.Add(tmp.Add(weight.to_type(ScalarType.Float32)).add(1.0));
        return tmp.Add(normed.mul(scale)).to_type(x.dtype);
    }
}
