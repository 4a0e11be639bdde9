using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>A decoder layer's computation: hidden states in, hidden states out, given tensors it only reads (rope tables, masks).</summary>
public delegate Tensor LayerStep(Tensor hidden, IReadOnlyList<Tensor?> constants);

/// <summary>
/// Activation (gradient) checkpointing for one decoder layer, as a custom autograd function (TorchSharp has no
/// <c>torch.utils.checkpoint</c>): forward runs the layer without recording a graph and keeps only its input;
/// backward runs it again with a graph, from the same random state (so LoRA dropout draws the same masks), and
/// returns <c>∂input</c> and <c>∂parameter</c> for the layer's trainable parameters through <c>autograd.grad</c>.
/// Activation memory drops from every layer's intermediates to one hidden state per layer, for one more
/// forward per layer in backward.
/// </summary>
/// <remarks>
/// The trainable parameters are passed as inputs so the autograd engine accumulates their gradients (a layer whose
/// input needs no gradient, as after frozen embeddings in LoRA, still gets a backward node). Handles are released as
/// <see cref="FunctionHandles{TFunction}"/> describes.
/// Only the CPU generator's state is replayed; CUDA training with checkpointing and dropout is refused up front.
/// </remarks>
sealed class CheckpointedLayer : autograd.SingleTensorFunction<CheckpointedLayer>
{
    sealed class Saved(LayerStep step, Tensor input, Tensor?[] constants, Tensor[] parameters, Tensor rngState)
    {
        public readonly LayerStep Step = step;
        public Tensor? Input = input;
        public readonly Tensor?[] Constants = constants;
        public readonly Tensor[] Parameters = parameters;
        public readonly Tensor RngState = rngState;
    }

    public override string Name => nameof(CheckpointedLayer);

    /// <param name="trainable">The layer's parameters that require gradients.</param>
    public static Tensor Apply(LayerStep step, Tensor hidden, IReadOnlyList<Tensor?> constants, IReadOnlyList<Tensor> trainable)
    {
        try
        {
            object[] vars = [hidden, step, constants, .. trainable];
            return apply(vars);
        }
        finally
        {
            FunctionHandles<CheckpointedLayer>.ReleaseOutput();
        }
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var hidden = (Tensor)vars[0];
        var step = (LayerStep)vars[1];
        var constants = (IReadOnlyList<Tensor?>)vars[2];
        var parameters = vars.Skip(3).Cast<Tensor>().ToArray();
        var rng = random.get_rng_state().DetachFromDisposeScope();
        ctx.save_data("saved", new Saved(step, hidden.alias().DetachFromDisposeScope(),
            constants.Select(c => c?.alias().DetachFromDisposeScope()).ToArray(), parameters, rng));
        ctx.save_data("inputNeedsGrad", hidden.requires_grad);
        // The layer's intermediates go as soon as it returns (GPT-2's blocks leave theirs to the caller's scope), so
        // the forward keeps only the output: the point of checkpointing.
        Tensor output;
        using (NewDisposeScope())
            output = step(hidden, constants).MoveToOuterDisposeScope();
        return FunctionHandles<CheckpointedLayer>.Output(output);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        FunctionHandles<CheckpointedLayer>.ReleaseReturned();
        var saved = (Saved)ctx.get_data("saved");
        var inputNeedsGrad = (bool)ctx.get_data("inputNeedsGrad");
        if (saved.Input is null)
            throw new InvalidOperationException("CheckpointedLayer: backward through this graph has already run (retain_graph is not supported)");
        var current = random.get_rng_state();
        var gradients = new List<Tensor>();
        try
        {
            random.set_rng_state(saved.RngState);
            using var scope = NewDisposeScope();
            using var _ = enable_grad();
            var input = saved.Input.detach().requires_grad_(inputNeedsGrad);
            var output = saved.Step(input, saved.Constants);
            var wrt = inputNeedsGrad ? [input, .. saved.Parameters] : saved.Parameters;
            foreach (var g in autograd.grad([output], wrt, [grad], allow_unused: true))
                gradients.Add(g?.MoveToOuterDisposeScope()!);
        }
        finally
        {
            random.set_rng_state(current);
            current.Dispose();
            saved.Input.Dispose();
            saved.Input = null;
            foreach (var c in saved.Constants)
                c?.Dispose();
            saved.RngState.Dispose();
            grad.Dispose();
        }
        FunctionHandles<CheckpointedLayer>.Returned(gradients);
        var inputGrad = inputNeedsGrad ? gradients[0] : null;
        var parameterGrads = inputNeedsGrad ? gradients.Skip(1) : gradients;
        return [inputGrad!, null!, null!, .. parameterGrads];
    }
}
