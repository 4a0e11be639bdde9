using LoraService.Training.Checkpoints;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class GoldenCheckpointTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(Golden.All), MemberType = typeof(Golden))]
    public void Loads_with_no_missing_or_unexpected_keys_and_reproduces_transformers_logits(string name)
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(Golden.Dir(name), out var report);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);

        var (ids, expected) = Golden.Reference(name);
        model.eval();
        using var _ = no_grad();
        var logits = model.call(tensor(ids).unsqueeze(0));

        Assert.Equal(expected.shape, logits.shape);
        var maxError = logits.sub(expected).abs().max().item<float>();
        output.WriteLine($"{name}: max |Δlogit| = {maxError:E2}");
        Assert.True(maxError < 2e-5, $"{name}: max |Δlogit| = {maxError}");
    }
}
