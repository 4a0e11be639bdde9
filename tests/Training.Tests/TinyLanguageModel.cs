using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>A real (small) causal LM for trainer tests: embedding → dropout → tanh MLP → vocabulary logits.</summary>
public sealed class TinyLanguageModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed;
    private readonly Dropout dropout;
    private readonly Linear hidden;
    private readonly Linear head;

    public TinyLanguageModel(int vocab, int width = 16, double dropoutRate = 0.0, long seed = 1) : base(nameof(TinyLanguageModel))
    {
        manual_seed(seed);
        embed = nn.Embedding(vocab, width);
        dropout = nn.Dropout(dropoutRate);
        hidden = nn.Linear(width, width);
        head = nn.Linear(width, vocab);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds) =>
        head.call(nn.functional.tanh(hidden.call(dropout.call(embed.call(inputIds)))));

    public IReadOnlyList<(string Name, Parameter Parameter)> Trainable() =>
        named_parameters().Select(p => (p.name, p.parameter)).ToList();
}
