using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraService.Training.Checkpoints;

/// <summary>
/// Writes a checkpoint's weights like transformers' <c>save_pretrained</c>: one <c>model.safetensors</c> when they fit
/// in a shard, else <c>model-0000i-of-0000n.safetensors</c> files filled in order up to the shard size, plus
/// <c>model.safetensors.index.json</c> mapping each tensor to its file.
/// </summary>
public static class ShardedSafetensors
{
    /// <summary>save_pretrained's default <c>max_shard_size</c>, "5GB".</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <returns>The files written, in order.</returns>
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<PendingTensor> tensors, long maxShardBytes = DefaultMaxShardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        Directory.CreateDirectory(directory);
        var shards = Split(tensors, maxShardBytes);
        if (shards.Count == 1)
        {
            SafetensorsWriter.Write(Path.Combine(directory, CheckpointLoader.SingleFile), shards[0]);
            return [CheckpointLoader.SingleFile];
        }

        var files = shards.Select((_, i) => $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors").ToList();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < shards.Count; i++)
        {
            SafetensorsWriter.Write(Path.Combine(directory, files[i]), shards[i]);
            foreach (var tensor in shards[i])
                weightMap[tensor.Name] = files[i];
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => t.Bytes) },
            ["weight_map"] = new JsonObject(weightMap.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)JsonValue.Create(e.Value)))),
        };
        // The index goes last: a reader that finds it finds every shard it names.
        AtomicFile.WriteAllText(Path.Combine(directory, CheckpointLoader.IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return [.. files, CheckpointLoader.IndexFile];
    }

    /// <summary>Fills shards in the given order; a tensor larger than the limit gets a shard of its own.</summary>
    public static List<List<PendingTensor>> Split(IReadOnlyList<PendingTensor> tensors, long maxShardBytes)
    {
        var shards = new List<List<PendingTensor>> { new() };
        long size = 0;
        foreach (var tensor in tensors)
        {
            if (size > 0 && size + tensor.Bytes > maxShardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(tensor);
            size += tensor.Bytes;
        }
        return shards;
    }
}
