using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>
/// A reusable CPU buffer that file bytes are read into before their dtype is converted into a parameter
/// (<see cref="SafetensorsReader.ReadInto"/>). One buffer a load, of <see cref="Bytes"/> bytes: small enough to stay
/// in cache, large enough that each piece is one read and one parallel conversion.
/// </summary>
public sealed class StagingBuffer(long bytes = StagingBuffer.DefaultBytes) : IDisposable
{
    public const long DefaultBytes = 8L << 20;

    Tensor? buffer;

    public long Bytes { get; } = bytes;

    /// <summary>The buffer viewed as a flat tensor of <paramref name="dtype"/> (reallocated only when the dtype changes).</summary>
    public Tensor For(ScalarType dtype)
    {
        if (buffer is null || buffer.dtype != dtype)
        {
            buffer?.Dispose();
            buffer = empty(Math.Max(1, Bytes / ElementSize(dtype)), dtype).DetachFromDisposeScope();
        }
        return buffer;
    }

    static long ElementSize(ScalarType dtype)
    {
        using var probe = empty(0, dtype);
        return probe.ElementSize;
    }

    public void Dispose() => buffer?.Dispose();
}
