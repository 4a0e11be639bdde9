using LoraService.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Lora;

/// <summary>
/// <c>u = (x ⊙ m)·Aᵀ</c> for the LoRA down-projection with a bool dropout mask <c>m</c>, as a custom autograd
/// function that keeps <c>x</c> and <c>m</c> for backward instead of the dropped float copy <c>x ⊙ m</c>.
/// Native autograd would save a fresh float <c>[…, in]</c> tensor per adapted projection (q, k and v each keep
/// their own copy of the same input); here every projection refers to the one <c>x</c> that its siblings share
/// and keeps only its 1-byte mask, and <c>x ⊙ m</c> is recomputed in backward. Values and gradients are those of
/// <c>linear(x.mul(m), A)</c>: <c>∂A = gᵀ·(x ⊙ m)</c>, <c>∂x = (g·A) ⊙ m</c>.
/// </summary>
/// <remarks>
/// The saved <c>x</c> and <c>m</c> are released as soon as backward has used them (as PyTorch releases saved
/// tensors after backward); a second backward through the same graph (<c>retain_graph</c>) is therefore not
/// supported and throws. Handles are released as
/// <see cref="FunctionHandles{TFunction}"/> describes.
/// </remarks>
sealed class MaskedLoraDown : autograd.SingleTensorFunction<MaskedLoraDown>
{
    sealed class Saved(Tensor x, Tensor keep, bool xNeedsGrad)
    {
        public Tensor? X = x;
        public Tensor? Keep = keep;
        public readonly bool XNeedsGrad = xNeedsGrad;
    }

    public override string Name => nameof(MaskedLoraDown);

    /// <summary>Applies the function; <paramref name="keep"/> is the bool mask, <paramref name="a"/> is lora_A's weight.</summary>
    public static Tensor Apply(Tensor x, Tensor keep, Tensor a)
    {
        try
        {
            return apply(x, keep, a);
        }
        finally
        {
            FunctionHandles<MaskedLoraDown>.ReleaseOutput();
        }
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var keep = (Tensor)vars[1];
        var a = (Tensor)vars[2];
        ctx.save_for_backward([a]);
        ctx.save_data("saved", new Saved(x.alias().DetachFromDisposeScope(), keep.alias().DetachFromDisposeScope(),
            x.requires_grad));
        return FunctionHandles<MaskedLoraDown>.Output(Down(x, keep, a));
    }

    /// <summary>Rows of <c>x ⊙ m</c> formed at a time in forward, so the dropped copy is never whole.</summary>
    const long ChunkRows = 512;

    /// <summary><c>(x ⊙ m)·Aᵀ</c>, row block by row block: each output row depends on its own input row only.</summary>
    static Tensor Down(Tensor x, Tensor keep, Tensor a)
    {
        var features = x.shape[^1];
        using var x2 = x.reshape(-1, features);
        var rows = x2.shape[0];
        if (rows <= ChunkRows)
        {
            using var dropped = x.mul(keep);
            return nn.functional.linear(dropped, a);
        }
        using var keep2 = keep.reshape(-1, features);
        using var at = a.t();
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < rows; start += ChunkRows)
            {
                var length = Math.Min(ChunkRows, rows - start);
                using var xs = x2.narrow(0, start, length);
                using var ks = keep2.narrow(0, start, length);
                using var dropped = xs.mul(ks);
                parts.Add(dropped.mm(at));
            }
            using var u2 = cat(parts, 0);
            long[] shape = [.. x.shape[..^1], a.shape[0]];
            return u2.reshape(shape);
        }
        finally
        {
            foreach (var t in parts)
                t.Dispose();
        }
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        FunctionHandles<MaskedLoraDown>.ReleaseReturned();
        var saved = (Saved)ctx.get_data("saved");
        if (saved.X is null || saved.Keep is null)
            throw new InvalidOperationException(
                "MaskedLoraDown: backward through this graph has already run (retain_graph is not supported with LoRA dropout)");
        var variables = ctx.get_saved_variables();
        var a = variables[0];
        Tensor? gradX = null, gradA;
        try
        {
            var rank = a.shape[0];
            using (var g2 = grad.reshape(-1, rank))
            using (var g2t = g2.t())
            using (var dropped = saved.X.mul(saved.Keep))
            using (var d2 = dropped.reshape(-1, dropped.shape[^1]))
                gradA = g2t.mm(d2);
            if (saved.XNeedsGrad)
            {
                gradX = grad.matmul(a);
                gradX.mul_(saved.Keep);
            }
        }
        finally
        {
            foreach (var v in variables)
                v.Dispose();
            saved.X.Dispose();
            saved.Keep.Dispose();
            saved.X = null;
            saved.Keep = null;
            grad.Dispose();
        }
        FunctionHandles<MaskedLoraDown>.Returned([gradX, gradA]);
        return [gradX!, null!, gradA];
    }
}
