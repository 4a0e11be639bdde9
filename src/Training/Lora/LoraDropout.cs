using LoraService.Training.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Lora;

/// <summary>The down-projection <c>A·dropout(x)</c> of a training step, dropout as PEFT's <c>lora_dropout</c>.</summary>
static class LoraDropout
{
    /// <summary>
    /// <c>A·dropout(x)</c>, with dropout's factor <c>1/(1-p)</c> moved into <paramref name="scale"/>, which the caller
    /// applies to the result. Every tensor made here, the result included, goes to <paramref name="tmp"/>.
    /// </summary>
    public static Tensor Down(Tensor x, Linear a, double p, Temps tmp, ref double scale)
    {
        if (p >= 1)
            return tmp.Add(a.call(tmp.Add(nn.functional.dropout(x, p, true))));
        // dropout(x) = x·m/(1-p), m ~ Bernoulli(1-p), drawn as nn.functional.dropout draws it on CPU. Autograd
        // then keeps m as bool (1 byte an element instead of a 4-byte float mask), and 1/(1-p) joins the scale.
        // Drawn straight into a bool tensor: bernoulli_ draws the same stream whatever the dtype, so this is the
        // mask a float draw would give, without the float temporary.
        Tensor keep;
        using (no_grad())
            keep = tmp.Add(empty(x.shape, ScalarType.Bool, x.device).bernoulli_(1 - p));
        scale /= 1 - p;
        // A·(x·m) through MaskedLoraDown when autograd records it: backward keeps x (shared by the sibling
        // projections) and the bool mask instead of a float copy of x·m per projection.
        return is_grad_enabled() && a.weight!.requires_grad
            ? tmp.Add(MaskedLoraDown.Apply(x, keep, a.weight!))
            : tmp.Add(a.call(tmp.Add(x.mul(keep))));
    }
}
