using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>
/// A contiguous CPU tensor's memory as byte spans. A span holds at most 2 GiB, so larger tensors (the
/// embedding of a 70B-class model) are visited in pieces of a flat view, never copied.
/// </summary>
public static class TensorBytes
{
    public const long ChunkBytes = 1L << 30;

    public static void ForEachChunk(Tensor tensor, Action<Span<byte>> action)
    {
        var count = tensor.numel();
        if (count == 0)
            return;
        var perChunk = Math.Max(1, ChunkBytes / tensor.ElementSize);
        if (count <= perChunk)
        {
            action(tensor.bytes);
            return;
        }
        using var flat = tensor.view(-1);
        for (long start = 0; start < count; start += perChunk)
        {
            using var piece = flat.narrow(0, start, Math.Min(perChunk, count - start));
            action(piece.bytes);
        }
    }
}
