using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

public sealed record TensorEntry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

/// <summary>A tensor read whose file part is done; <see cref="Complete"/> finishes it in memory.</summary>
public sealed class PendingRead : IDisposable
{
    readonly InPlaceWidening.Fetched? fetched;

    internal PendingRead(ReadRoute route, InPlaceWidening.Fetched? fetched) => (Route, this.fetched) = (route, fetched);

    public ReadRoute Route { get; }

    public void Complete() => fetched?.Widen();

    public void Dispose() => fetched?.Dispose();
}

/// <summary>How <see cref="SafetensorsReader.ReadInto"/> moved a tensor's bytes.</summary>
public enum ReadRoute
{
    /// <summary>Same dtype: read straight into the target's memory.</summary>
    Straight,
    /// <summary>Another dtype: through the staging buffer, converted piece by piece.</summary>
    Staged,
    /// <summary>bf16 or float16 into float32, through the page cache into the target's memory and widened there (<see cref="InPlaceWidening"/>).</summary>
    InPlace,
    /// <summary>As <see cref="InPlace"/>, but from the disk past the page cache (<see cref="DirectFile"/>).</summary>
    Direct,
}

/// <summary>
/// Strict safetensors reader: the header is fully validated (sizes, offsets, coverage, duplicates)
/// before a single tensor byte is allocated, so a hostile file fails fast instead of exhausting memory.
/// </summary>
public sealed class SafetensorsReader : IDisposable
{
    public const long MaxHeaderBytes = 100_000_000;

    readonly FileStream stream;
    readonly long dataStart;
    DirectFile? direct;

    public string Path { get; }
    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafetensorsReader(string path, FileStream stream, long dataStart,
        Dictionary<string, TensorEntry> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.stream = stream;
        this.dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    public static SafetensorsReader Open(string path)
    {
        var stream = File.OpenRead(path);
        try
        {
            var (dataStart, tensors, metadata) = ReadHeader(path, stream);
            return new SafetensorsReader(path, stream, dataStart, tensors, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads every tensor of a file; float tensors are converted to <paramref name="floatType"/> when given.</summary>
    public static Dictionary<string, Tensor> ReadAll(string path, ScalarType? floatType = null)
    {
        using var reader = Open(path);
        return reader.Tensors.Keys.ToDictionary(k => k, k => reader.Read(k, floatType));
    }

    public Tensor Read(string name, ScalarType? floatType = null)
    {
        if (!Tensors.TryGetValue(name, out var entry))
            throw new KeyNotFoundException($"{Path}: no tensor '{name}'");
        stream.Seek(dataStart + entry.Begin, SeekOrigin.Begin);
        var tensor = empty(entry.Shape, entry.DType);
        // A CPU tensor's byte span is its own memory: read straight into it, no intermediate copy.
        TensorBytes.ForEachChunk(tensor, span => stream.ReadExactly(span));
        if (floatType is { } target && tensor.is_floating_point() && tensor.dtype != target)
        {
            var converted = tensor.to_type(target);
            tensor.Dispose();
            return converted;
        }
        return tensor;
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> into <paramref name="target"/> (a contiguous CPU tensor of its shape),
    /// converting its dtype on the way, with no copy of a whole tensor. Same dtype: the bytes go straight into the
    /// target's memory. bf16 or float16 into float32 (every half-precision checkpoint on CPU): into the target's
    /// memory, then widened there (<see cref="ReadRoute.InPlace"/>); after <see cref="StartBulkRead"/> found the file
    /// on disk rather than in memory, past the page cache (<see cref="ReadRoute.Direct"/>). Other conversions: through
    /// <paramref name="staging"/>, a reusable buffer of the file's dtype, a piece at a time.
    /// </summary>
    public ReadRoute ReadInto(string name, Tensor target, StagingBuffer staging)
    {
        using var read = BeginReadInto(name, target, staging);
        read.Complete();
        return read.Route;
    }

    /// <summary>
    /// <see cref="ReadInto"/> in two steps: this one does the file's part; the target holds the tensor once the
    /// result's <see cref="PendingRead.Complete"/> has run (the widening of <see cref="ReadRoute.InPlace"/> and
    /// <see cref="ReadRoute.Direct"/> reads), which may run on another thread while this reader goes on.
    /// </summary>
    public PendingRead BeginReadInto(string name, Tensor target, StagingBuffer staging)
    {
        if (!Tensors.TryGetValue(name, out var entry))
            throw new KeyNotFoundException($"{Path}: no tensor '{name}'");
        if (!entry.Shape.SequenceEqual(target.shape))
            throw new ArgumentException($"{Path}: '{name}' has shape [{string.Join(", ", entry.Shape)}], the target [{string.Join(", ", target.shape)}]");
        if (!target.is_contiguous() || target.device_type != DeviceType.CPU)
            throw new ArgumentException("the target must be a contiguous CPU tensor", nameof(target));
        var offset = dataStart + entry.Begin;
        if (InPlaceWidening.Applies(entry.DType, target))
        {
            if (direct is not null && InPlaceWidening.AppliesDirect(offset, target))
            {
                if (InPlaceWidening.Fetch(direct, stream.SafeFileHandle, offset, target, entry.DType) is { } fetched)
                    return new PendingRead(ReadRoute.Direct, fetched);
                // The file system turned a direct read down: everything from here on goes through the page cache.
                direct.Dispose();
                direct = null;
            }
            return new PendingRead(ReadRoute.InPlace, InPlaceWidening.Fetch(null, stream.SafeFileHandle, offset, target, entry.DType));
        }
        stream.Seek(offset, SeekOrigin.Begin);
        if (entry.DType == target.dtype)
        {
            TensorBytes.ForEachChunk(target, span => stream.ReadExactly(span));
            return new PendingRead(ReadRoute.Straight, null);
        }
        using var flat = target.view(-1);
        var count = flat.shape[0];
        var buffer = staging.For(entry.DType);
        var perPiece = buffer.shape[0];
        for (long start = 0; start < count; start += perPiece)
        {
            var length = Math.Min(perPiece, count - start);
            using var source = buffer.narrow(0, 0, length);
            stream.ReadExactly(source.bytes);
            using var destination = flat.narrow(0, start, length);
            destination.copy_(source);
        }
        return new PendingRead(ReadRoute.Staged, null);
    }

    /// <summary>
    /// Prepares for reading most of the file with <see cref="ReadInto"/>. When the kernel already holds most of it in
    /// the page cache, reads come from there, and the kernel is asked to fetch the rest now. Otherwise bf16 and float16
    /// tensors bound for float32 are read past the page cache, where the file system allows (<see cref="ReadRoute.Direct"/>).
    /// </summary>
    public void StartBulkRead()
    {
        if (direct is null && PageCache.ResidentFraction(stream.SafeFileHandle, stream.Length) < 0.5)
            direct = DirectFile.TryOpen(Path);
        if (direct is null)
            FileAdvice.WillNeed(stream.SafeFileHandle, dataStart, stream.Length - dataStart);
    }

    static (long, Dictionary<string, TensorEntry>, Dictionary<string, string>) ReadHeader(string path, FileStream stream)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (stream.Length < 8)
            throw new SafetensorsFormatException(path, null, $"file is {stream.Length} bytes, shorter than the 8-byte header length");
        stream.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw new SafetensorsFormatException(path, null, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        if ((long)headerLength > stream.Length - 8)
            throw new SafetensorsFormatException(path, null, $"header length {headerLength} runs past the end of the {stream.Length}-byte file");

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = 8 + (long)headerLength;
        var dataLength = stream.Length - dataStart;

        var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new SafetensorsFormatException(path, null, "header is not a JSON object");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString()!;
                if (!seen.Add(name))
                    throw new SafetensorsFormatException(path, name, "duplicate key in header");
                reader.Read();
                using var doc = JsonDocument.ParseValue(ref reader);
                if (name == "__metadata__")
                    ReadMetadata(path, doc.RootElement, metadata);
                else
                    tensors[name] = ParseEntry(path, name, doc.RootElement);
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                throw new SafetensorsFormatException(path, null, "trailing data after the header object");
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(path, null, $"header is not valid JSON ({e.Message})");
        }
        catch (InvalidOperationException e)
        {
            throw new SafetensorsFormatException(path, null, $"header is not valid JSON ({e.Message})");
        }

        // Sorted by offset, tensors must tile the data buffer exactly: no gaps, no overlaps, nothing left over.
        long expected = 0;
        foreach (var entry in tensors.Values.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin < expected)
                throw new SafetensorsFormatException(path, entry.Name, $"data_offsets [{entry.Begin}, {entry.End}] overlap the previous tensor ending at {expected}");
            if (entry.Begin > expected)
                throw new SafetensorsFormatException(path, entry.Name, $"data_offsets [{entry.Begin}, {entry.End}] leave a gap after byte {expected}");
            if (entry.End > dataLength)
                throw new SafetensorsFormatException(path, entry.Name, $"data_offsets [{entry.Begin}, {entry.End}] run past the {dataLength}-byte data buffer");
            expected = entry.End;
        }
        if (expected != dataLength)
            throw new SafetensorsFormatException(path, null, $"tensors cover {expected} bytes but the data buffer holds {dataLength}");
        return (dataStart, tensors, metadata);
    }

    static void ReadMetadata(string path, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(path, "__metadata__", "must be an object of strings");
        foreach (var property in element.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsFormatException(path, "__metadata__", $"value of '{property.Name}' is not a string");
            metadata[property.Name] = property.Value.GetString()!;
        }
    }

    static TensorEntry ParseEntry(string path, string name, JsonElement element)
    {
        SafetensorsFormatException Bad(string problem) => new(path, name, problem);
        if (element.ValueKind != JsonValueKind.Object)
            throw Bad("entry is not an object");
        if (!element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad("missing dtype");
        var dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDType.TryParse(dtypeName, out var dtype, out var size))
            throw Bad($"unknown or unsupported dtype '{dtypeName}'");
        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad("missing shape");
        if (!element.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw Bad("data_offsets must be [begin, end]");

        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        Int128 numel = 1;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var d) || d < 0)
                throw Bad("shape must hold non-negative integers");
            shape[i++] = d;
            numel *= d;
            if (numel > long.MaxValue)
                throw Bad("shape is impossibly large");
        }
        var offsets = offsetsElement.EnumerateArray().Select(o =>
            o.ValueKind == JsonValueKind.Number && o.TryGetInt64(out var v) && v >= 0 ? v : throw Bad("data_offsets must be non-negative integers")).ToArray();
        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin)
            throw Bad($"data_offsets [{begin}, {end}] end before they begin");
        if (numel * size != end - begin)
            throw Bad($"holds {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtypeName} needs {numel * size}");
        return new TensorEntry(name, dtype, shape, begin, end);
    }

    public void Dispose()
    {
        direct?.Dispose();
        stream.Dispose();
    }
}
