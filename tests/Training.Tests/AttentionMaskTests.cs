using LoraService.Training.Checkpoints;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class AttentionMaskTests
{
    // RoPE scores depend only on relative positions, so once the padded keys are hidden a left-padded
    // sequence must give the logits of the same sequence alone.
    [Theory]
    [InlineData("llama-f32")]
    [InlineData("qwen2-f32")]
    public void Left_padded_llama_sequence_with_mask_matches_the_unpadded_sequence(string name)
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(Golden.Dir(name));
        using var _ = no_grad();
        var (ids, _) = Golden.Reference(name);
        var shortIds = ids[..10];
        var padded = tensor(new long[] { 0, 0, 0 }.Concat(shortIds).ToArray());
        var batch = stack([padded, tensor(ids[..13])]);
        var mask = stack([tensor(new long[] { 0, 0, 0 }.Concat(Enumerable.Repeat(1L, 10)).ToArray()), ones(13, ScalarType.Int64)]);

        var masked = model.Forward(batch, null, mask);
        var alone = model.call(tensor(shortIds).unsqueeze(0))[0];
        var other = model.call(tensor(ids[..13]).unsqueeze(0))[0];

        Assert.False(masked.isnan().any().item<bool>()); // all-padding query rows stay finite
        Assert.True(masked[0, 3..].allclose(alone, rtol: 0, atol: 1e-5));
        Assert.True(masked[1].allclose(other, rtol: 0, atol: 1e-5));
        Assert.False(model.call(batch)[0, 3..].allclose(alone, rtol: 0, atol: 1e-3)); // without the mask the pads leak in
    }

    [Fact]
    public void Right_padding_mask_leaves_real_gpt2_tokens_unchanged()
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(Golden.Dir("gpt2-f32"));
        using var _ = no_grad();
        var (ids, expected) = Golden.Reference("gpt2-f32");
        var padded = tensor(ids.Concat(new long[] { 0, 0, 0, 0 }).ToArray()).unsqueeze(0);
        var mask = tensor(Enumerable.Repeat(1L, 16).Concat(Enumerable.Repeat(0L, 4)).ToArray()).unsqueeze(0);

        var logits = model.Forward(padded, null, mask);

        Assert.True(logits[.., ..16].allclose(expected, rtol: 0, atol: 2e-5));
    }
}
