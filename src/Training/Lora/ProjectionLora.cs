using LoraService.Training.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Lora;

/// <summary>A projection's LoRA adapter, seen from the projection.</summary>
public static class ProjectionLora
{
    extension(Projection projection)
    {
        /// <summary>The projection's LoRA adapter, or null.</summary>
        public LoraAdapter? Lora => projection.Adapter as LoraAdapter;

        public Parameter? LoraA => projection.Lora?.A;
        public Parameter? LoraB => projection.Lora?.B;

        /// <inheritdoc cref="LoraAdapter.Attach"/>
        public LoraAdapter AttachLora(LoraHyperparameters hyperparameters, ScalarType adapterType = ScalarType.Float32) =>
            LoraAdapter.Attach(projection, hyperparameters, adapterType);

        /// <inheritdoc cref="LoraAdapter.DeltaWeight"/>
        public Tensor DeltaWeight() =>
            (projection.Lora ?? throw new InvalidOperationException("this projection has no LoRA adapter")).DeltaWeight();

        /// <summary>The effective weight <c>W0 + s·B·A</c> (or W0 without an adapter), detached.</summary>
        public Tensor MergedWeight()
        {
            if (projection.Lora is { } lora)
                return lora.MergedWeight();
            using var _ = no_grad();
            return projection.Weight.detach().clone();
        }
    }
}
