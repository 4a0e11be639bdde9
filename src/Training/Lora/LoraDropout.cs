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
        // dropout(x) = x·m/(1-p), m ~ Bernoulli(1-p). Autograd then keeps m as bool (1 byte an element instead of
        // a 4-byte float mask), and 1/(1-p) joins the scale. m is drawn as uniform < 1-p: on CPU that is about
        // twice as fast as bernoulli_ (which nn.functional.dropout calls), and the draws are a large part of a
        // LoRA step (a fresh mask per adapted projection per step).
        Tensor keep;
        using (no_grad())
        using (var uniform = rand(x.shape, x.dtype, x.device))
            keep = tmp.Add(uniform.lt(1 - p));
        scale /= 1 - p;
        // A·(x·m) through MaskedLoraDown when autograd records it: backward keeps x (shared by the sibling
        // projections) and the bool mask instead of a float copy of x·m per projection.
        return is_grad_enabled() && a.weight!.requires_grad
            ? tmp.Add(MaskedLoraDown.Apply(x, keep, a.weight!))
            : tmp.Add(a.call(tmp.Add(x.mul(keep))));
    }
}
