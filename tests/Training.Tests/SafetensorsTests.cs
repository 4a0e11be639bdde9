using System.Buffers.Binary;
using System.Text;
using LoraService.Training.Checkpoints;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class SafetensorsTests
{
    [Fact]
    public void Writer_and_reader_round_trip_every_dtype_with_pt_metadata()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 5),
            ["bf16"] = randn(4, 2).to_type(ScalarType.BFloat16),
            ["f16"] = randn(7).to_type(ScalarType.Float16),
            ["i64"] = tensor(new long[] { -1, 2, long.MaxValue }),
            ["i32"] = tensor(new[] { 1, -2, 3, 4 }).reshape(2, 2),
            ["scalar"] = tensor(3.5f),
            ["transposed"] = randn(3, 4).t(), // not contiguous in memory
        };
        var path = dir["t.safetensors"];
        SafetensorsWriter.Write(path, tensors);

        using var reader = SafetensorsReader.Open(path);
        Assert.Equal("pt", reader.Metadata["format"]);
        foreach (var (name, expected) in tensors)
        {
            var actual = reader.Read(name);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.eq(actual).all().item<bool>(), name);
        }
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Reader_upcasts_bf16_to_float32_on_request()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var bf16 = randn(8, 8).to_type(ScalarType.BFloat16);
        SafetensorsWriter.Write(dir["b.safetensors"], new Dictionary<string, Tensor> { ["w"] = bf16 });

        var loaded = SafetensorsReader.ReadAll(dir["b.safetensors"], ScalarType.Float32)["w"];

        Assert.Equal(ScalarType.Float32, loaded.dtype);
        Assert.True(loaded.eq(bf16.to_type(ScalarType.Float32)).all().item<bool>());
    }

    [Fact]
    public void ReadInto_converts_in_place_or_through_a_staging_buffer_smaller_than_the_tensor()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["bf16"] = randn(37, 29).to_type(ScalarType.BFloat16),  // widened in the target's own memory
            ["f16"] = randn(300).to_type(ScalarType.Float16),       // converted in the target's own memory
            ["f64"] = randn(300).to_type(ScalarType.Float64),       // 300 elements: 10 pieces of 32, the last short
            ["f32"] = randn(5, 7),                                  // same dtype: straight into the target
        };
        SafetensorsWriter.Write(dir["m.safetensors"], tensors);
        using var reader = SafetensorsReader.Open(dir["m.safetensors"]);
        using var staging = new StagingBuffer(bytes: 256);

        foreach (var (name, source) in tensors)
        {
            var target = full(source.shape, float.NaN);
            var route = reader.ReadInto(name, target, staging);
            Assert.Equal(name switch { "bf16" or "f16" => ReadRoute.InPlace, "f64" => ReadRoute.Staged, _ => ReadRoute.Straight }, route);
            Assert.True(target.eq(source.to_type(ScalarType.Float32)).all().item<bool>(), name);
        }
        var wrongShape = empty(29, 37);
        var e = Assert.Throws<ArgumentException>(() => reader.ReadInto("bf16", wrongShape, staging));
        Assert.Contains("[37, 29]", e.Message);
    }

    static string WriteRaw(TempDir dir, string header, int dataBytes, ulong? declaredLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        var path = dir["bad.safetensors"];
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static SafetensorsFormatException Rejects(string header, int dataBytes, ulong? declaredLength = null)
    {
        using var dir = new TempDir();
        var path = WriteRaw(dir, header, dataBytes, declaredLength);
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsReader.Open(path).Dispose());
        Assert.Equal(path, e.File);
        return e;
    }

    [Fact]
    public void A_well_formed_raw_file_is_accepted_so_the_rejections_below_are_specific()
    {
        using var dir = new TempDir();
        var path = WriteRaw(dir, """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}}""", 12);
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(2, reader.Tensors.Count);
    }

    [Fact]
    public void Rejects_a_header_length_over_100_MB_before_allocating()
    {
        var e = Rejects("{}", 0, declaredLength: 200_000_000_000);
        Assert.Contains("exceeds", e.Problem);
    }

    [Fact]
    public void Rejects_a_header_length_beyond_the_file()
    {
        var e = Rejects("{}", 0, declaredLength: 1000);
        Assert.Contains("past the end", e.Problem);
    }

    [Fact]
    public void Rejects_invalid_json()
    {
        var e = Rejects("""{"a":{"dtype":"F32",""", 0);
        Assert.Contains("not valid JSON", e.Problem);
    }

    [Fact]
    public void Rejects_an_unknown_dtype_naming_the_tensor()
    {
        var e = Rejects("""{"w":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}}""", 1);
        Assert.Equal("w", e.Tensor);
        Assert.Contains("dtype", e.Problem);
    }

    [Fact]
    public void Rejects_overlapping_offsets()
    {
        var e = Rejects("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12);
        Assert.Equal("b", e.Tensor);
        Assert.Contains("overlap", e.Problem);
    }

    [Fact]
    public void Rejects_non_contiguous_offsets()
    {
        var e = Rejects("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12);
        Assert.Equal("b", e.Tensor);
        Assert.Contains("gap", e.Problem);
    }

    [Fact]
    public void Rejects_offsets_past_the_data_buffer()
    {
        var e = Rejects("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8);
        Assert.Equal("a", e.Tensor);
        Assert.Contains("run past", e.Problem);
    }

    [Fact]
    public void Rejects_a_byte_count_that_is_not_numel_times_dtype_size()
    {
        var e = Rejects("""{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,4]}}""", 4);
        Assert.Equal("a", e.Tensor);
        Assert.Contains("needs 6", e.Problem);
    }

    [Fact]
    public void Rejects_a_buffer_not_exactly_covered()
    {
        var e = Rejects("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 12);
        Assert.Null(e.Tensor);
        Assert.Contains("cover 4 bytes", e.Problem);
    }

    [Fact]
    public void Rejects_duplicate_keys()
    {
        var e = Rejects("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8);
        Assert.Equal("a", e.Tensor);
        Assert.Contains("duplicate", e.Problem);
    }

    [Fact]
    public void Rejects_a_huge_shape_without_allocating()
    {
        var e = Rejects("""{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}""", 4);
        Assert.Equal("a", e.Tensor);
    }
}
