using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LoraService.Training.Checkpoints;
using LoraService.Training.Export;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>Checkpoints past the 2 GiB span limit, and exports in the base dtype, sharded like save_pretrained.</summary>
public sealed class BigCheckpointTests
{
    [Fact]
    public void A_tensor_over_2_GiB_reads_and_writes_back_bit_exact()
    {
        using var dir = new TempDir();
        // 2 GiB + 8 bytes of float32, in a sparse file: a few set values (one on each side of the 2 GiB line), zeros elsewhere.
        const long count = (1L << 29) + 2;
        var marks = new Dictionary<long, float> { [0] = 1.5f, [(1L << 28) + 7] = 3.25f, [(1L << 29) + 1] = -2.75f, [count - 2] = 7f };
        var path = dir["big.safetensors"];
        WriteSparse(path, "embed", count, marks);

        using (var reader = SafetensorsReader.Open(path))
        using (var big = reader.Read("embed"))
        {
            Assert.Equal([count], big.shape);
            foreach (var (index, value) in marks)
                Assert.Equal(value, big[index].item<float>());
            Assert.Equal(0f, big[(1L << 29) - 5].item<float>());
            Assert.Equal(marks.Values.Sum(), big.sum().item<float>());

            SafetensorsWriter.Write(dir["copy.safetensors"], new Dictionary<string, Tensor> { ["embed"] = big });
        }
        using var copy = File.OpenRead(dir["copy.safetensors"]);
        var headerLength = 8 + (long)ReadHeaderLength(copy);
        Assert.Equal(count * 4, copy.Length - headerLength);
        foreach (var (index, value) in marks)
            Assert.Equal(value, ReadFloatAt(copy, headerLength + index * 4));
        Assert.Equal(0f, ReadFloatAt(copy, headerLength + ((1L << 29) - 5) * 4));
    }

    [Fact]
    public void A_bf16_base_model_trained_in_float32_exports_in_bf16()
    {
        using var dir = new TempDir();
        var golden = Golden.Dir("llama-gqa-tied-bf16-sharded");
        using var model = CheckpointLoader.Load(golden);
        Assert.Equal(ScalarType.Float32, model.parameters().First().dtype);

        CheckpointExporter.Save(model, dir.Path, golden);

        Assert.Equal("bfloat16", ModelConfig.Load(Path.Combine(dir.Path, "config.json")).TorchDtype);
        using var reader = SafetensorsReader.Open(Path.Combine(dir.Path, CheckpointLoader.SingleFile));
        Assert.DoesNotContain("lm_head.weight", reader.Tensors.Keys);
        Assert.All(reader.Tensors.Values, t => Assert.Equal(ScalarType.BFloat16, t.DType));
        // The weights came from bf16, so bf16 holds them exactly: the export equals the base checkpoint tensor for tensor.
        var exported = SafetensorsReader.ReadAll(Path.Combine(dir.Path, CheckpointLoader.SingleFile));
        foreach (var file in CheckpointLoader.WeightFiles(golden))
            foreach (var (name, original) in SafetensorsReader.ReadAll(file))
                Assert.True(original.eq(exported[name]).all().item<bool>(), name);
    }

    [Fact]
    public void An_export_over_the_shard_size_is_sharded_with_an_index_like_save_pretrained_and_loads_back()
    {
        using var dir = new TempDir();
        var baseDir = dir["base"];
        ModelFactory.WriteCheckpoint(baseDir, ModelFactory.TinyLlama(), seed: 3);
        using var model = CheckpointLoader.Load(baseDir);
        var tensors = CheckpointExporter.MergedTensors(model, ScalarType.Float32);
        var total = tensors.Sum(t => t.Bytes);
        var shardLimit = total / 3;

        CheckpointExporter.Save(model, dir["out"], baseDir, maxShardBytes: shardLimit);

        var shards = Directory.GetFiles(dir["out"], "model-*-of-*.safetensors").Select(Path.GetFileName).Order().ToArray();
        Assert.True(shards.Length >= 3, $"{shards.Length} shards");
        Assert.Equal(Enumerable.Range(1, shards.Length).Select(i => $"model-{i:D5}-of-{shards.Length:D5}.safetensors"), shards);
        Assert.False(File.Exists(Path.Combine(dir["out"], CheckpointLoader.SingleFile)));
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["out"], CheckpointLoader.IndexFile)));
        Assert.Equal(total, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.Equal(tensors.Select(t => t.Name).Order(), weightMap.Keys.Order());
        foreach (var shard in shards)
        {
            using var reader = SafetensorsReader.Open(Path.Combine(dir["out"], shard!));
            var bytes = reader.Tensors.Values.Sum(t => t.End - t.Begin);
            Assert.True(bytes <= shardLimit || reader.Tensors.Count == 1, $"{shard} holds {bytes} bytes");
            Assert.All(reader.Tensors.Keys, name => Assert.Equal(shard, weightMap[name]));
        }

        using var reloaded = CheckpointLoader.Load(dir["out"], out var report);
        Assert.Empty(report.Missing);
        using var _ = no_grad();
        var ids = randint(0, 257, [1, 10]);
        Assert.True(reloaded.call(ids).eq(model.call(ids)).all().item<bool>());
    }

    [Fact]
    public void Shards_fill_in_order_and_a_tensor_larger_than_the_limit_gets_its_own()
    {
        PendingTensor T(string name, long floats) => new(name, ScalarType.Float32, [floats], () => zeros(floats));
        var shards = ShardedSafetensors.Split([T("a", 10), T("b", 10), T("c", 100), T("d", 5), T("e", 20)], maxShardBytes: 80);
        Assert.Equal([["a", "b"], ["c"], ["d"], ["e"]], shards.Select(s => s.Select(t => t.Name).ToArray()).ToArray());
    }

    static void WriteSparse(string path, string name, long count, IReadOnlyDictionary<long, float> marks)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            [name] = new { dtype = "F32", shape = new[] { count }, data_offsets = new[] { 0, count * 4 } },
        });
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        file.Write(prefix);
        file.Write(header);
        var dataStart = file.Position;
        file.SetLength(dataStart + count * 4);
        Span<byte> value = stackalloc byte[4];
        foreach (var (index, mark) in marks)
        {
            BinaryPrimitives.WriteSingleLittleEndian(value, mark);
            file.Position = dataStart + index * 4;
            file.Write(value);
        }
    }

    static ulong ReadHeaderLength(Stream stream)
    {
        Span<byte> prefix = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(prefix);
        return BinaryPrimitives.ReadUInt64LittleEndian(prefix);
    }

    static float ReadFloatAt(Stream stream, long position)
    {
        Span<byte> bytes = stackalloc byte[4];
        stream.Position = position;
        stream.ReadExactly(bytes);
        return BinaryPrimitives.ReadSingleLittleEndian(bytes);
    }
}
