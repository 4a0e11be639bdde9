using TorchSharp;
using TorchSharp.Modules;
using LoraService.Training.Lora;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// A linear projection that LoRA can attach to. <see cref="FanInFanOut"/> marks GPT-2's Conv1D, whose
/// weight is stored <c>[in, out]</c>; otherwise the weight is <c>[out, in]</c> as in <c>nn.Linear</c>.
/// Adapter weights live under the projection as <c>lora_A.weight</c> <c>[r, in]</c> and
/// <c>lora_B.weight</c> <c>[out, r]</c>, so state-dict names are PEFT's without the adapter name.
/// </summary>
public sealed class Projection : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter? bias;
    Linear? loraA;
    Linear? loraB;

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public bool FanInFanOut { get; }
    public LoraHyperparameters? Lora { get; private set; }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public Parameter? LoraA => loraA?.weight;
    public Parameter? LoraB => loraB?.weight;

    public Projection(int inFeatures, int outFeatures, bool hasBias, bool fanInFanOut = false,
        Device? device = null, ScalarType dtype = ScalarType.Float32) : base("Projection")
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        FanInFanOut = fanInFanOut;
        long[] shape = fanInFanOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
        weight = new Parameter(zeros(shape, dtype, device));
        if (hasBias)
            bias = new Parameter(zeros([outFeatures], dtype, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (Lora is not { } lora)
            return Base(x);
        using var tmp = new Temps();
        var input = tmp.Add(x.to_type(loraA!.weight!.dtype));
        var scale = lora.Scale;
        Tensor? down = null;
        if (lora.Dropout > 0 && lora.Dropout < 1 && training)
        {
            // dropout(x) = x·m/(1-p), m ~ Bernoulli(1-p), drawn as nn.functional.dropout draws it on CPU. Autograd
            // then keeps m as bool (1 byte an element instead of a 4-byte float mask), and 1/(1-p) joins the scale.
            // Drawn straight into a bool tensor: bernoulli_ draws the same stream whatever the dtype, so this is the
            // mask a float draw would give, without the float temporary.
            Tensor keep;
            using (no_grad())
                keep = tmp.Add(empty(input.shape, ScalarType.Bool, input.device).bernoulli_(1 - lora.Dropout));
            scale /= 1 - lora.Dropout;
            // A·(x·m) through MaskedLoraDown when autograd records it: backward keeps x (shared by the sibling
            // projections) and the bool mask instead of a float copy of x·m per projection.
            down = is_grad_enabled() && loraA.weight!.requires_grad
                ? tmp.Add(MaskedLoraDown.Apply(input, keep, loraA.weight!))
                : tmp.Add(loraA.call(tmp.Add(input.mul(keep))));
        }
        else if (lora.Dropout > 0 && training)
            input = tmp.Add(nn.functional.dropout(input, lora.Dropout, training));
        down ??= tmp.Add(loraA.call(input));
        // s·B(A·x) computed as B(s·(A·x)): the scale multiplies the r-wide tensor, not the output-wide one.
        var scaled = tmp.Add(down.mul(scale));
        var x2 = tmp.Add(x.reshape(-1, InFeatures));
        var y2 = Base(x2);
        try
        {
            if (y2.dtype == scaled.dtype)
            {
                // y + B·(s·u) accumulated into the base output (addmm_, beta = alpha = 1) instead of materialising
                // the [.., out] delta and a third tensor for the sum; nothing saves the base output for backward.
                using var bt = loraB!.weight!.t();
                Release(y2, y2.addmm_(tmp.Add(scaled.reshape(-1, scaled.shape[^1])), bt));
            }
            else
                Release(y2, y2.add_(tmp.Add(tmp.Add(nn.functional.linear(tmp.Add(scaled.reshape(-1, scaled.shape[^1])), loraB!.weight!)).to_type(y2.dtype))));
            long[] shape = [.. x.shape[..^1], OutFeatures];
            return y2.view(shape);
        }
        finally
        {
            y2.Dispose();
        }
    }

    /// <summary>Disposes the handle an in-place op returned when it is not the tensor it was called on.</summary>
    static void Release(Tensor self, Tensor returned)
    {
        if (!ReferenceEquals(self, returned))
            returned.Dispose();
    }

    Tensor Base(Tensor x)
    {
        if (!FanInFanOut)
            return nn.functional.linear(x, weight, bias);
        using var w = weight.t();
        return nn.functional.linear(x, w, bias);
    }

    /// <summary>Adds a fresh adapter: A kaiming-uniform(a=√5) as PEFT, B zeros, so the output is unchanged.</summary>
    public void AttachLora(LoraHyperparameters settings, ScalarType adapterType = ScalarType.Float32)
    {
        if (Lora is not null)
            throw new InvalidOperationException("this projection already has a LoRA adapter");
        var device = weight.device;
        loraA = nn.Linear(InFeatures, settings.Rank, hasBias: false, device: device, dtype: adapterType);
        loraB = nn.Linear(settings.Rank, OutFeatures, hasBias: false, device: device, dtype: adapterType);
        using (no_grad())
        {
            nn.init.kaiming_uniform_(loraA.weight!, a: Math.Sqrt(5));
            nn.init.zeros_(loraB.weight!);
        }
        register_module("lora_A", loraA);
        register_module("lora_B", loraB);
        loraA.train(training);
        loraB.train(training);
        Lora = settings;
    }

    /// <summary><c>s·B·A</c> in the layout of <see cref="Weight"/> (transposed for Conv1D).</summary>
    public Tensor DeltaWeight()
    {
        if (Lora is not { } lora)
            throw new InvalidOperationException("this projection has no LoRA adapter");
        var delta = loraB!.weight!.matmul(loraA!.weight!).mul(lora.Scale);
        return FanInFanOut ? delta.t() : delta;
    }

    /// <summary>The effective weight <c>W0 + s·B·A</c> (or W0 without an adapter), detached.</summary>
    public Tensor MergedWeight()
    {
        using var _ = no_grad();
        return Lora is null ? weight.detach().clone() : weight.detach().add(DeltaWeight().to_type(weight.dtype));
    }
}
