using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// A linear projection, <c>y = x·Wᵀ + b</c>. <see cref="FanInFanOut"/> marks GPT-2's Conv1D, whose weight is
/// stored <c>[in, out]</c>; otherwise the weight is <c>[out, in]</c> as in <c>nn.Linear</c>. An attached
/// <see cref="IProjectionAdapter"/> (LoRA) computes the output instead, and its modules become children of
/// the projection.
/// </summary>
public sealed class Projection : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter? bias;

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public bool FanInFanOut { get; }
    public IProjectionAdapter? Adapter { get; private set; }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;

    /// <param name="uninitialised">Leave the weight's memory as allocated (a model's weights are loaded or initialised next,
    /// and zero-filling a multi-GB model first costs a pass over every byte); otherwise it starts at zero.</param>
    public Projection(int inFeatures, int outFeatures, bool hasBias, bool fanInFanOut = false,
        Device? device = null, ScalarType dtype = ScalarType.Float32, bool uninitialised = false) : base("Projection")
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        FanInFanOut = fanInFanOut;
        long[] shape = fanInFanOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
        weight = new Parameter(uninitialised ? empty(shape, dtype, device) : zeros(shape, dtype, device));
        if (hasBias)
            bias = new Parameter(zeros([outFeatures], dtype, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Adapter is { } adapter ? adapter.Forward(x) : BaseForward(x);

    /// <summary>The projection without its adapter.</summary>
    public Tensor BaseForward(Tensor x)
    {
        if (!FanInFanOut)
            return nn.functional.linear(x, weight, bias);
        using var w = weight.t();
        return nn.functional.linear(x, w, bias);
    }

    /// <summary>Registers the adapter's modules under this projection and routes <see cref="forward"/> through it.</summary>
    public void Attach(IProjectionAdapter adapter)
    {
        if (Adapter is not null)
            throw new InvalidOperationException("this projection already has an adapter");
        foreach (var (name, module) in adapter.Modules)
        {
            register_module(name, module);
            module.train(training);
        }
        Adapter = adapter;
    }
}
