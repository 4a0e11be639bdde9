using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>
/// Reads a bf16 tensor into a float32 CPU tensor with no staging copy: the bf16 bytes are read into the float32
/// tensor's own memory (<see cref="Fetch"/>), and every element is then widened where it lies, from the last to the
/// first, so no source is overwritten before it is read (<see cref="Fetched.Widen"/>). The two steps are apart so that
/// a loader can widen one tensor on one thread while another fetches the next; each thread then also pays for half of
/// the fresh memory's first touch. With a <see cref="DirectFile"/>, the bytes come from the disk past the page cache,
/// at the memory's first aligned address, so the float32 memory is the only memory the load touches. That matters on a
/// VM whose freed pages go back to the host: there, touching fresh memory is the larger part of a load, and filling
/// the page cache would add half as much again (docs/benchmarks.md, loading).
/// </summary>
static class InPlaceBf16Read
{
    /// <summary>Smaller tensors are not worth a direct read, and an aligned body might not fit them.</summary>
    public const long MinDirectElements = 1 << 16;

    /// <summary>A piece is one span of the target (spans stop at 2 GiB): 1 GiB of float32.</summary>
    public const long PieceElements = TensorBytes.ChunkBytes / sizeof(float);

    public static bool Applies(ScalarType fileType, Tensor target) =>
        fileType == ScalarType.BFloat16 && target.dtype == ScalarType.Float32;

    public static bool AppliesDirect(long offset, Tensor target) => offset % 2 == 0 && target.numel() >= MinDirectElements;

    /// <summary>
    /// Reads the tensor's bytes at <paramref name="offset"/> into <paramref name="target"/>'s memory, still bf16, from
    /// <paramref name="direct"/> when given (see <see cref="AppliesDirect"/>), else from <paramref name="file"/>. Null,
    /// with the target's contents unspecified, when the file system turns a direct read down.
    /// </summary>
    public static Fetched? Fetch(DirectFile? direct, SafeFileHandle file, long offset, Tensor target, long pieceElements = PieceElements)
    {
        var fetched = new Fetched();
        using var flat = target.view(-1);
        var count = flat.shape[0];
        for (long start = 0; start < count; start += pieceElements)
        {
            var piece = new Piece(flat.narrow(0, start, Math.Min(pieceElements, count - start)));
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

        /// <summary>Turns the fetched bf16 bits into the target's float32 values.</summary>
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
    /// One span of the target: a body of bf16 bits somewhere in its memory, and, around a direct read's aligned body,
    /// the unaligned head and tail of its file range, read the ordinary way into small arrays.
    /// </summary>
    internal sealed class Piece(Tensor view) : IDisposable
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
            WidenInPlace(memory, bodyAt / 2, head.Length, bodyCount);
            WidenInto(head, floats[..head.Length]);
            WidenInto(tail, floats[(head.Length + bodyCount)..]);
        }

        public void Dispose() => view.Dispose();
    }

    /// <summary>
    /// Element k of <paramref name="count"/> has its bf16 bits at 16-bit index <paramref name="source"/> + k of
    /// <paramref name="memory"/> and its float32 goes to 32-bit index <paramref name="first"/> + k. Writing element k
    /// covers 16-bit indices 2(first + k) and one more, which hold no unread source once k ≥ source − 2·first; the few
    /// elements below that (the source sits less than one alignment unit in) are saved first.
    /// </summary>
    internal static void WidenInPlace(Span<byte> memory, int source, int first, int count)
    {
        var halves = MemoryMarshal.Cast<byte, ushort>(memory);
        var floats = MemoryMarshal.Cast<byte, uint>(memory);
        var safeFrom = Math.Clamp(source - 2 * first, 0, count);
        Span<ushort> saved = stackalloc ushort[safeFrom];
        halves.Slice(source, safeFrom).CopyTo(saved);

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
        WidenInto(saved, floats.Slice(first, safeFrom));
    }

    static void WidenInto(ReadOnlySpan<ushort> bf16, Span<uint> float32)
    {
        for (var i = 0; i < bf16.Length; i++)
            float32[i] = (uint)bf16[i] << 16;
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
