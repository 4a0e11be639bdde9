using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>
/// Reads a bf16 or float16 tensor into a float32 CPU tensor with no staging copy: the 16-bit values are read into the
/// float32 tensor's own memory (<see cref="Fetch"/>), and every element is then widened where it lies, from the last
/// to the first, so no source is overwritten before it is read (<see cref="Fetched.Widen"/>). The two steps are apart
/// so that a loader can widen one tensor on one thread while another fetches the next; each thread then also pays for
/// half of the fresh memory's first touch. With a <see cref="DirectFile"/>, the bytes come from the disk past the page
/// cache, at the memory's first aligned address, so the float32 memory is the only memory the load touches. That
/// matters on a VM whose freed pages go back to the host: there, touching fresh memory is the larger part of a load,
/// and filling the page cache would add half as much again (docs/benchmarks.md, loading).
/// </summary>
static class InPlaceWidening
{
    /// <summary>Smaller tensors are not worth a direct read, and an aligned body might not fit them.</summary>
    public const long MinDirectElements = 1 << 16;

    /// <summary>A piece is one span of the target (spans stop at 2 GiB): 1 GiB of float32.</summary>
    public const long PieceElements = TensorBytes.ChunkBytes / sizeof(float);

    /// <summary>float16 is converted through a small copy of this many elements, which stays in the L1 cache.</summary>
    const int Float16Chunk = 2048;

    public static bool Applies(ScalarType fileType, Tensor target) =>
        fileType is ScalarType.BFloat16 or ScalarType.Float16 && target.dtype == ScalarType.Float32;

    public static bool AppliesDirect(long offset, Tensor target) => offset % 2 == 0 && target.numel() >= MinDirectElements;

    /// <summary>
    /// Reads the tensor's bytes at <paramref name="offset"/> into <paramref name="target"/>'s memory, still of
    /// <paramref name="fileType"/>, from <paramref name="direct"/> when given (see <see cref="AppliesDirect"/>), else
    /// from <paramref name="file"/>. Null, with the target's contents unspecified, when the file system turns a direct
    /// read down.
    /// </summary>
    public static Fetched? Fetch(DirectFile? direct, SafeFileHandle file, long offset, Tensor target, ScalarType fileType,
        long pieceElements = PieceElements)
    {
        var fetched = new Fetched();
        using var flat = target.view(-1);
        var count = flat.shape[0];
        for (long start = 0; start < count; start += pieceElements)
        {
            var piece = new Piece(flat.narrow(0, start, Math.Min(pieceElements, count - start)), fileType);
            fetched.Pieces.Add(piece);
            if (direct is null)
                piece.Fetch(file, offset + start * 2);
            else if (!piece.TryFetchDirect(direct, file, offset + start * 2))
            {
                fetched.Dispose();
                return null;
            }
        }
        return fetched;
    }

    public sealed class Fetched : IDisposable
    {
        internal List<Piece> Pieces { get; } = [];

        /// <summary>Turns the fetched 16-bit values into the target's float32 values.</summary>
        public void Widen()
        {
            foreach (var piece in Pieces)
                piece.Widen();
        }

        public void Dispose()
        {
            foreach (var piece in Pieces)
                piece.Dispose();
        }
    }

    /// <summary>
    /// One span of the target: a body of 16-bit values somewhere in its memory, and, around a direct read's aligned
    /// body, the unaligned head and tail of its file range, read the ordinary way into small arrays.
    /// </summary>
    internal sealed class Piece(Tensor view, ScalarType fileType) : IDisposable
    {
        ushort[] head = [], tail = [];
        int bodyAt, bodyCount;

        /// <summary>The whole range, through the page cache, to the start of the memory.</summary>
        public void Fetch(SafeFileHandle file, long offset)
        {
            var memory = view.bytes;
            bodyCount = memory.Length / sizeof(float);
            ReadExactly(file, memory[..(2 * bodyCount)], offset);
        }

        public bool TryFetchDirect(DirectFile direct, SafeFileHandle file, long offset)
        {
            var memory = view.bytes;
            var count = memory.Length / sizeof(float);
            var bodyStart = AlignUp(offset);
            var bodyEnd = AlignDown(offset + 2L * count);
            var at = (int)((DirectFile.Alignment - AddressOf(memory) % DirectFile.Alignment) % DirectFile.Alignment);
            var bodyBytes = bodyEnd - bodyStart;
            if (bodyBytes <= 0 || at + bodyBytes > memory.Length)
            {
                Fetch(file, offset); // too short to hold an aligned body (the last piece of a long tensor)
                return true;
            }
            head = ReadArray(file, offset, (int)(bodyStart - offset) / 2);
            bodyAt = at;
            bodyCount = (int)bodyBytes / 2;
            tail = ReadArray(file, bodyEnd, count - head.Length - bodyCount);
            return direct.TryRead(memory.Slice(bodyAt, (int)bodyBytes), bodyStart);
        }

        public void Widen()
        {
            var memory = view.bytes;
            var floats = MemoryMarshal.Cast<byte, uint>(memory);
            WidenInPlace(memory, bodyAt / 2, head.Length, bodyCount, fileType);
            WidenInto(head, floats[..head.Length], fileType);
            WidenInto(tail, floats[(head.Length + bodyCount)..], fileType);
        }

        public void Dispose() => view.Dispose();
    }

    /// <summary>
    /// Element k of <paramref name="count"/> has its 16-bit value at 16-bit index <paramref name="source"/> + k of
    /// <paramref name="memory"/> and its float32 goes to 32-bit index <paramref name="first"/> + k. Writing element k
    /// covers 16-bit indices 2(first + k) and one more, which hold no unread source once k ≥ source − 2·first; the few
    /// elements below that (the source sits less than one alignment unit in) are saved first.
    /// </summary>
    internal static void WidenInPlace(Span<byte> memory, int source, int first, int count, ScalarType fileType)
    {
        var halves = MemoryMarshal.Cast<byte, ushort>(memory);
        var floats = MemoryMarshal.Cast<byte, uint>(memory);
        var safeFrom = Math.Clamp(source - 2 * first, 0, count);
        Span<ushort> saved = stackalloc ushort[safeFrom];
        halves.Slice(source, safeFrom).CopyTo(saved);
        if (fileType == ScalarType.BFloat16)
            WidenBf16Down(halves, floats, source, first, safeFrom, count);
        else
            WidenFloat16Down(halves, floats, source, first, safeFrom, count);
        WidenInto(saved, floats.Slice(first, safeFrom), fileType);
    }

    /// <summary>bf16 is the top half of a float32: each element is its bits shifted, 8 at a time, last ones first.</summary>
    static void WidenBf16Down(Span<ushort> halves, Span<uint> floats, int source, int first, int safeFrom, int count)
    {
        ref var half0 = ref MemoryMarshal.GetReference(halves);
        ref var float0 = ref MemoryMarshal.GetReference(floats);
        var k = count;
        for (; k - Vector128<ushort>.Count >= safeFrom; k -= Vector128<ushort>.Count)
        {
            var bits = Vector128.LoadUnsafe(ref half0, (nuint)(source + k - Vector128<ushort>.Count));
            var (lower, upper) = Vector128.Widen(bits);
            var at = (nuint)(first + k - Vector128<ushort>.Count);
            (lower << 16).StoreUnsafe(ref float0, at);
            (upper << 16).StoreUnsafe(ref float0, at + (nuint)Vector128<uint>.Count);
        }
        for (; k > safeFrom; k--)
            floats[first + k - 1] = (uint)halves[source + k - 1] << 16;
    }

    /// <summary>
    /// float16 needs a real conversion, which may not read and write overlapping memory: each chunk, last ones first,
    /// is copied out before it is converted. Its writes start at or above 16-bit index 2(first + its lowest k), so they
    /// reach no unread chunk below it.
    /// </summary>
    static void WidenFloat16Down(Span<ushort> halves, Span<uint> floats, int source, int first, int safeFrom, int count)
    {
        Span<ushort> chunk = stackalloc ushort[Float16Chunk];
        for (var k = count; k > safeFrom;)
        {
            var length = Math.Min(Float16Chunk, k - safeFrom);
            k -= length;
            halves.Slice(source + k, length).CopyTo(chunk);
            WidenInto(chunk[..length], floats.Slice(first + k, length), ScalarType.Float16);
        }
    }

    static void WidenInto(ReadOnlySpan<ushort> bits, Span<uint> float32, ScalarType fileType)
    {
        if (fileType == ScalarType.Float16)
        {
            TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(bits), MemoryMarshal.Cast<uint, float>(float32));
            return;
        }
        for (var i = 0; i < bits.Length; i++)
            float32[i] = (uint)bits[i] << 16;
    }

    static ushort[] ReadArray(SafeFileHandle file, long offset, int count)
    {
        var bits = new ushort[count];
        ReadExactly(file, MemoryMarshal.AsBytes(bits.AsSpan()), offset);
        return bits;
    }

    static void ReadExactly(SafeFileHandle file, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            var read = RandomAccess.Read(file, destination, offset);
            if (read == 0)
                throw new EndOfStreamException($"file ends before byte {offset + destination.Length}");
            destination = destination[read..];
            offset += read;
        }
    }

    static unsafe long AddressOf(Span<byte> memory) => (long)Unsafe.AsPointer(ref MemoryMarshal.GetReference(memory));

    static long AlignUp(long value) => (value + DirectFile.Alignment - 1) / DirectFile.Alignment * DirectFile.Alignment;

    static long AlignDown(long value) => value / DirectFile.Alignment * DirectFile.Alignment;
}
