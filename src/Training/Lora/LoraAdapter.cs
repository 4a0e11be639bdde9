using LoraService.Training.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Lora;

/// <summary>
/// LoRA on one projection, as PEFT's <c>lora.Linear</c>: <c>y = W0·x + b + s·B·A·dropout(x)</c> with
/// A <c>[r, in]</c> and B <c>[out, r]</c> (also for Conv1D), s = <see cref="LoraHyperparameters.Scale"/>.
/// A and B live under the projection as <c>lora_A.weight</c> and <c>lora_B.weight</c>, so state-dict names are
/// PEFT's without the adapter name.
/// </summary>
public sealed class LoraAdapter : IProjectionAdapter
{
    readonly Projection layer;
    readonly Linear a;
    readonly Linear b;

    public LoraHyperparameters Hyperparameters { get; }
    public double Scale => Hyperparameters.Scale;
    public Parameter A => a.weight!;
    public Parameter B => b.weight!;

    public IEnumerable<(string Name, nn.Module Module)> Modules => [(PeftNames.LoraA, a), (PeftNames.LoraB, b)];

    LoraAdapter(Projection layer, LoraHyperparameters hyperparameters, ScalarType dtype)
    {
        this.layer = layer;
        Hyperparameters = hyperparameters;
        var device = layer.Weight.device;
        a = nn.Linear(layer.InFeatures, hyperparameters.Rank, hasBias: false, device: device, dtype: dtype);
        b = nn.Linear(hyperparameters.Rank, layer.OutFeatures, hasBias: false, device: device, dtype: dtype);
        using (no_grad())
        {
            nn.init.kaiming_uniform_(a.weight!, a: Math.Sqrt(5));
            nn.init.zeros_(b.weight!);
        }
    }

    /// <summary>Attaches a fresh adapter: A kaiming-uniform(a=√5) as PEFT, B zeros, so the output is unchanged.</summary>
    public static LoraAdapter Attach(Projection layer, LoraHyperparameters hyperparameters, ScalarType dtype = ScalarType.Float32)
    {
        if (layer.Adapter is not null)
            throw new InvalidOperationException("this projection already has an adapter");
        var adapter = new LoraAdapter(layer, hyperparameters, dtype);
        layer.Attach(adapter);
        return adapter;
    }

    public Tensor Forward(Tensor x)
    {
        using var tmp = new Temps();
        var input = tmp.Add(x.to_type(A.dtype));
        var scale = Scale;
        var p = Hyperparameters.Dropout;
        var down = p > 0 && layer.training ? LoraDropout.Down(input, a, p, tmp, ref scale) : tmp.Add(a.call(input));
        // s·B(A·x) computed as B(s·(A·x)): the scale multiplies the r-wide tensor, not the output-wide one.
        var scaled = tmp.Add(down.mul(scale));
        var scaled2 = tmp.Add(scaled.reshape(-1, scaled.shape[^1]));
        var y2 = layer.BaseForward(tmp.Add(x.reshape(-1, layer.InFeatures)));
        try
        {
            if (y2.dtype == scaled.dtype)
            {
                // y + B·(s·u) accumulated into the base output (addmm_, beta = alpha = 1) instead of materialising
                // the [.., out] delta and a third tensor for the sum; nothing saves the base output for backward.
                using var bt = B.t();
                Release(y2, y2.addmm_(scaled2, bt));
            }
            else
                Release(y2, y2.add_(tmp.Add(tmp.Add(nn.functional.linear(scaled2, B)).to_type(y2.dtype))));
            long[] shape = [.. x.shape[..^1], layer.OutFeatures];
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

    /// <summary><c>s·B·A</c> in the layout of the projection's weight (transposed for Conv1D).</summary>
    public Tensor DeltaWeight()
    {
        var delta = B.matmul(A).mul(Scale);
        return layer.FanInFanOut ? delta.t() : delta;
    }

    /// <summary>The merged weight <c>W0 + s·B·A</c>, detached; the projection is left as it is.</summary>
    public Tensor MergedWeight()
    {
        using var _ = no_grad();
        return layer.Weight.detach().add(DeltaWeight().to_type(layer.Weight.dtype));
    }
}
