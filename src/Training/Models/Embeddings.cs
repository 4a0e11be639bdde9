using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// An embedding table, <c>weight[ids]</c>, created uninitialised: every model is loaded from a checkpoint or
/// initialised explicitly (<see cref="ModelFactory.CreateRandom"/>) next. nn.Embedding (and its from_pretrained)
/// always runs its own normal init first, which for a 150k-token table cost as long as reading the checkpoint.
/// </summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;

    public TokenEmbedding(long count, long dimension, Device? device, ScalarType dtype) : base("Embedding")
    {
        weight = new Parameter(empty([count, dimension], dtype, device));
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.reshape([.. ids.shape, weight.shape[1]]);
    }
}
