using LoraService.Tokenization.Examples;
using static TorchSharp.torch;

namespace LoraService.Training.Data;

public static class Batching
{
    /// <summary>Pads examples to the longest one; padding ids are never scored.</summary>
    public static MicroBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device? device = null)
    {
        var length = examples.Max(e => e.Length);
        var ids = new long[examples.Count * length];
        var labels = new long[examples.Count * length];
        var scored = 0;
        var real = 0;
        for (var b = 0; b < examples.Count; b++)
        {
            var example = examples[b];
            for (var t = 0; t < length; t++)
            {
                var inside = t < example.Length;
                ids[b * length + t] = inside ? example.InputIds[t] : padId;
                labels[b * length + t] = inside ? example.Labels[t] : TokenizedExample.IgnoreIndex;
                if (inside) real++;
                if (inside && t > 0 && example.Labels[t] != TokenizedExample.IgnoreIndex) scored++;
            }
        }
        var inputTensor = tensor(ids, [examples.Count, length], dtype: ScalarType.Int64);
        var labelTensor = tensor(labels, [examples.Count, length], dtype: ScalarType.Int64);
        if (device is not null && device.type != TorchSharp.DeviceType.CPU)
        {
            inputTensor = inputTensor.to(device);
            labelTensor = labelTensor.to(device);
        }
        return new MicroBatch(inputTensor, labelTensor, scored, real);
    }

    /// <summary>A seeded permutation of <paramref name="count"/> examples for one epoch; the same seed and epoch give the same order.</summary>
    public static int[] EpochOrder(int count, int seed, int epoch, bool shuffle = true)
    {
        var order = Enumerable.Range(0, count).ToArray();
        if (!shuffle) return order;
        // Seeded System.Random is stable across .NET versions and platforms.
        var random = new Random(unchecked(seed * 1_000_003 + epoch) & int.MaxValue);
        for (var i = count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
