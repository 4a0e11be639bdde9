using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>A tensor to write: its header entry up front, its values only when its turn comes.</summary>
public sealed record PendingTensor(string Name, ScalarType DType, long[] Shape, Func<Tensor> Produce)
{
    public long Bytes => Shape.Aggregate(1L, (n, d) => n * d) * SafetensorsDType.Size(DType);

    /// <summary>An existing tensor, written as it is.</summary>
    public static PendingTensor Of(string name, Tensor tensor) => new(name, tensor.dtype, tensor.shape, () => tensor.detach());
}

/// <summary>Writes tensors in safetensors layout (sorted names, contiguous, padded header), atomically.</summary>
public static class SafetensorsWriter
{
    public static readonly IReadOnlyDictionary<string, string> PtMetadata = new Dictionary<string, string> { ["format"] = "pt" };

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors.Select(t => PendingTensor.Of(t.Key, t.Value)).ToList(), metadata);

    /// <summary>
    /// Produces, converts and writes one tensor at a time, so a file of computed tensors (merged weights)
    /// never holds more than one of them in memory.
    /// </summary>
    public static void Write(string path, IReadOnlyList<PendingTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object> { ["__metadata__"] = metadata ?? PtMetadata };
        long offset = 0;
        foreach (var t in ordered)
        {
            if (header.ContainsKey(t.Name))
                throw new ArgumentException($"tensor '{t.Name}' is given twice", nameof(tensors));
            header[t.Name] = new { dtype = SafetensorsDType.Name(t.DType), shape = t.Shape, data_offsets = new[] { offset, offset + t.Bytes } };
            offset += t.Bytes;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        // Pad the header with spaces to 8 bytes so the data buffer starts aligned, as the reference writer does.
        var padded = (json.Length + 7) / 8 * 8;

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
            stream.Write(prefix);
            stream.Write(json);
            for (var i = json.Length; i < padded; i++)
                stream.WriteByte((byte)' ');
            foreach (var pending in ordered)
                WriteValues(stream, pending);
        });
    }

    static void WriteValues(Stream stream, PendingTensor pending)
    {
        using var scope = NewDisposeScope();
        var value = pending.Produce().detach().cpu();
        if (!value.shape.SequenceEqual(pending.Shape))
            throw new InvalidOperationException(
                $"tensor '{pending.Name}' was planned as [{string.Join(", ", pending.Shape)}] but is [{string.Join(", ", value.shape)}]");
        if (value.dtype != pending.DType)
            value = value.to_type(pending.DType);
        TensorBytes.ForEachChunk(value.contiguous(), span => stream.Write(span));
    }
}
