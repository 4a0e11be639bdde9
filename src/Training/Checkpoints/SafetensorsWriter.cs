using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>Writes tensors in safetensors layout (sorted names, contiguous, padded header), atomically.</summary>
public static class SafetensorsWriter
{
    public static readonly IReadOnlyDictionary<string, string> PtMetadata = new Dictionary<string, string> { ["format"] = "pt" };

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object> { ["__metadata__"] = metadata ?? PtMetadata };
        long offset = 0;
        foreach (var name in names)
        {
            var t = tensors[name];
            var bytes = t.numel() * t.ElementSize;
            header[name] = new { dtype = SafetensorsDType.Name(t.dtype), shape = t.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
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
            foreach (var name in names)
            {
                using var cpu = tensors[name].detach().cpu().contiguous();
                if (cpu.numel() > 0)
                    stream.Write(cpu.bytes);
            }
        });
    }
}
