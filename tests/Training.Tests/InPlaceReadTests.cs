using System.Runtime.InteropServices;
using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>
/// bf16 and float16 checkpoints read into float32 parameters' own memory and widened there (InPlaceWidening), through
/// the page cache or past it: the values must be exactly the 16-bit value as float32 for every alignment of file and
/// memory, and the page cache must be used wherever direct reads are not to be had or not worth it.
/// </summary>
public sealed class InPlaceReadTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(8, 3)]
    [InlineData(100, 1)]
    [InlineData(2047, 0)]
    [InlineData(2047, 2047)]
    [InlineData(600, 300)]
    [InlineData(5, 1023)]
    public void Widening_in_place_gives_every_element_its_float32_whatever_the_overlap(int source, int first)
    {
        var random = new Random(source * 31 + first);
        foreach (var fileType in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var count in new[] { 1, 5, 8, 9, 64, 1001, 2048, 2049, 4100, 9000 })
            {
                var memory = new byte[4 * (first + count) + 2 * DirectFile.Alignment];
                random.NextBytes(memory);
                var bits = MemoryMarshal.Cast<byte, ushort>(memory).Slice(source, count).ToArray();

                InPlaceWidening.WidenInPlace(memory, source, first, count, fileType);

                var floats = MemoryMarshal.Cast<byte, uint>(memory);
                for (var k = 0; k < count; k++)
                    Assert.True(Float32Bits(bits[k], fileType) == floats[first + k], $"{fileType}, count {count}, element {k}");
            }
    }

    /// <summary>The definitions: bf16 is a float32's upper 16 bits; float16 is IEEE binary16, exactly representable in float32.</summary>
    static uint Float32Bits(ushort bits, ScalarType fileType) => fileType == ScalarType.BFloat16
        ? (uint)bits << 16
        : BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf(bits));

    [Fact]
    public void A_half_precision_file_on_disk_reads_into_float32_past_the_page_cache_at_every_offset()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        // Metadata of different lengths moves the data start; the odd-sized tensors move each next tensor's offset.
        foreach (var padding in new[] { 0, 1, 7, 300, 4093 })
        {
            var path = dir[$"m{padding}.safetensors"];
            var tensors = new Dictionary<string, Tensor>
            {
                ["a"] = randn(257, 311).to_type(ScalarType.BFloat16),
                ["small"] = randn(3).to_type(ScalarType.BFloat16),
                ["b"] = randn(70_001).to_type(ScalarType.BFloat16),
                ["f32"] = randn(300, 300),
                ["f16"] = randn(300, 300).to_type(ScalarType.Float16),
                ["f16 odd"] = randn(70_003).to_type(ScalarType.Float16),
                ["f64"] = randn(7, 9).to_type(ScalarType.Float64),
            };
            SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["pad"] = new string('x', padding) });
            Evict(path);
            var directExpected = DirectReadsExpected(path) ? ReadRoute.Direct : ReadRoute.InPlace;

            using var reader = SafetensorsReader.Open(path);
            reader.StartBulkRead();
            using var staging = new StagingBuffer();
            foreach (var (name, source) in tensors)
            {
                var target = full(source.shape, float.NaN);
                var route = reader.ReadInto(name, target, staging);
                var expected = name switch
                {
                    "f32" => ReadRoute.Straight,
                    "f64" => ReadRoute.Staged,
                    "small" => ReadRoute.InPlace, // too small to be worth a direct read
                    _ => directExpected,
                };
                Assert.Equal(expected, route);
                Assert.True(target.eq(source.to_type(ScalarType.Float32)).all().item<bool>(), $"{name}, padding {padding}");
            }
        }
    }

    [Fact]
    public void A_tensor_longer_than_one_piece_is_fetched_and_widened_piece_by_piece()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var source = randn(200_003).to_type(ScalarType.BFloat16);
        var path = dir["long.safetensors"];
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = source });
        Evict(path);
        var offset = new FileInfo(path).Length - 2 * 200_003; // one tensor: it ends the file
        using var file = File.OpenHandle(path);
        using var direct = DirectReadsExpected(path) ? DirectFile.TryOpen(path) : null;

        foreach (var from in new[] { null, direct }.Distinct())
        {
            var target = full(200_003, float.NaN);
            // Pieces of 66,667: three long ones and a last one of 2, too short for an aligned body.
            using var fetched = InPlaceWidening.Fetch(from, file, offset, target, ScalarType.BFloat16, pieceElements: 66_667);
            Assert.NotNull(fetched);
            fetched!.Widen();
            Assert.True(target.eq(source.to_type(ScalarType.Float32)).all().item<bool>(), from is null ? "page cache" : "direct");
        }
    }

    [Fact]
    public void The_page_cache_is_used_when_it_holds_the_file_and_direct_reads_when_it_does_not()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var source = randn(300, 300).to_type(ScalarType.BFloat16);
        var path = dir["w.safetensors"];
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = source });
        using (var handle = File.OpenHandle(path))
            Assert.True(PageCache.ResidentFraction(handle, new FileInfo(path).Length) > 0.9, "a file just written is in the page cache");
        Assert.Equal(ReadRoute.InPlace, ReadOnce(path, source));

        Evict(path);
        using (var handle = File.OpenHandle(path))
            Assert.True(PageCache.ResidentFraction(handle, new FileInfo(path).Length) < 0.1, "evicted");
        Assert.Equal(DirectReadsExpected(path) ? ReadRoute.Direct : ReadRoute.InPlace, ReadOnce(path, source));
    }

    [Fact]
    public void A_direct_read_the_kernel_turns_down_says_so_instead_of_throwing()
    {
        using var dir = new TempDir();
        var path = dir["raw.bin"];
        File.WriteAllBytes(path, new byte[4 * DirectFile.Alignment]);
        if (!DirectReadsExpected(path))
            return;
        using var direct = DirectFile.TryOpen(path)!;
        // A misaligned offset gets the answer a file system without direct reads gives every read: EINVAL. The
        // reader then goes the ordinary way (the other tests show that way's values).
        Assert.False(direct.TryRead(new byte[DirectFile.Alignment], 1));
    }

    [Theory]
    [InlineData("bfloat16")]
    [InlineData("float16")]
    public void A_half_precision_sharded_checkpoint_loads_the_same_parameters_from_disk_as_from_the_page_cache(string dtype)
    {
        using var dir = new TempDir();
        var config = ModelFactory.TinyLlama(intermediate: 1024, vocab: 4096) with { TorchDtype = dtype };
        using (var original = ModelFactory.CreateRandom(config, seed: 5))
            Export.CheckpointExporter.Save(original, dir.Path, maxShardBytes: 400_000);
        Assert.True(CheckpointLoader.WeightFiles(dir.Path).Count > 1, "sharded");

        using var cached = CheckpointLoader.Load(dir.Path, out var cachedReport);
        foreach (var file in CheckpointLoader.WeightFiles(dir.Path))
            Evict(file);
        using var fromDisk = CheckpointLoader.Load(dir.Path, out var diskReport);

        Assert.Equal([ReadRoute.InPlace], cachedReport.Routes.Keys.Distinct().Where(r => r != ReadRoute.Straight).ToArray());
        if (DirectReadsExpected(CheckpointLoader.WeightFiles(dir.Path)[0]))
        {
            Assert.True(diskReport.Routes.GetValueOrDefault(ReadRoute.Direct) >= 3, $"direct reads: {string.Join(", ", diskReport.Routes)}");
            Assert.StartsWith($"{diskReport.Routes[ReadRoute.Direct]} from disk past the page cache, ", diskReport.DescribeRoutes());
        }
        var expected = cached.state_dict();
        foreach (var (name, parameter) in fromDisk.state_dict())
            Assert.True(parameter.eq(expected[name]).all().item<bool>(), name);
    }

    /// <summary>True where the file takes direct reads; on Linux x64, a file in the temp directory on disk must.</summary>
    static bool DirectReadsExpected(string path)
    {
        using var probe = DirectFile.TryOpen(path);
        Assert.True(probe is not null || !OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64,
            $"{path}: no direct reads on Linux x64");
        return probe is not null;
    }

    static ReadRoute ReadOnce(string path, Tensor source)
    {
        using var reader = SafetensorsReader.Open(path);
        reader.StartBulkRead();
        using var staging = new StagingBuffer();
        var target = full(source.shape, float.NaN);
        var route = reader.ReadInto("w", target, staging);
        Assert.True(target.eq(source.to_type(ScalarType.Float32)).all().item<bool>());
        return route;
    }

    /// <summary>Writes the file's pages to disk and drops them from the page cache, as a cold start would find it.</summary>
    static void Evict(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Flush(flushToDisk: true);
        FileAdvice.DontNeed(stream.SafeFileHandle);
    }
}
