using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

static class Embeddings
{
    /// <summary>
    /// An embedding table left uninitialised: every model is loaded from a checkpoint or initialised explicitly
    /// (<see cref="ModelFactory.CreateRandom"/>) next, and nn.Embedding's own normal init of a 150k-token table
    /// costs as long as reading the whole checkpoint.
    /// </summary>
    public static Embedding Uninitialised(long count, long dimension, Device? device, ScalarType dtype) =>
        nn.Embedding_from_pretrained(empty([count, dimension], dtype, device), freeze: false);
}
