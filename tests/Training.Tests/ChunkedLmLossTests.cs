using LoraService.Tokenization.Examples;
using LoraService.Training.Lora;
using LoraService.Training.Loop;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>The block-wise loss gives the loss and gradients of cross-entropy over the whole logits at once.</summary>
public sealed class ChunkedLmLossTests
{
    public static TheoryData<string, string, long> Cases() => new()
    {
        { "llama", "lora", 7 * 257 },      // 7 rows a block: many blocks, the last one short
        { "llama", "full", 7 * 257 },      // untied head: its weight gets a gradient from every block
        { "llama-tied", "full", 5 * 257 }, // tied head: the embedding's gradient from the head and from the lookup
        { "gpt2", "full", 3 * 257 },
        { "gemma2", "lora", 11 * 257 },    // final logit soft-capping inside the head
        { "llama", "lora", 1L << 24 },     // one block holds everything
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gives_the_loss_and_gradients_of_the_dense_cross_entropy(string family, string method, long blockElements)
    {
        using var scope = NewDisposeScope();
        var config = TinyTrainableModels.Config(family, layers: 2);
        Assert.Equal(257, config.VocabSize);
        using var model = ModelFactory.CreateRandom(config, seed: 5);
        TinyTrainableModels.Prepare(model, method);
        manual_seed(3);
        var ids = randint(0, 257, [3, 20]);
        // Prompt positions and right padding are not scored.
        var labels = ids.clone();
        labels[0, ..6] = tensor(TokenizedExample.IgnoreIndex);
        labels[2, 14..] = tensor(TokenizedExample.IgnoreIndex);
        var scored = labels[.., 1..].ne(TokenizedExample.IgnoreIndex).sum().item<long>();
        var trainable = model.parameters().Where(p => p.requires_grad).ToList();

        var denseLoss = Dense(model, ids, labels, scored);
        var denseGrads = TakeGradients(trainable);
        var chunkedLoss = ChunkedLmLoss.Backward(model, ids, labels, scored, blockElements);
        var chunkedGrads = TakeGradients(trainable);

        Assert.Equal(denseLoss, chunkedLoss, 1e-5);
        for (var i = 0; i < trainable.Count; i++)
        {
            var scale = denseGrads[i].abs().max().item<float>();
            var difference = denseGrads[i].sub(chunkedGrads[i]).abs().max().item<float>();
            Assert.True(scale > 0, $"parameter {i} got no gradient");
            Assert.True(difference <= 1e-5 * Math.Max(1, scale), $"parameter {i}: max |Δgrad| {difference} (scale {scale})");
        }
    }

    [Fact]
    public void Nothing_scored_means_no_loss_and_no_gradient()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.CreateRandom(ModelFactory.TinyLlama(layers: 1), seed: 5);
        FullFineTune.Prepare(model);
        var ids = randint(0, 257, [2, 8]);
        var labels = full_like(ids, TokenizedExample.IgnoreIndex);

        Assert.Equal(0, ChunkedLmLoss.Backward(model, ids, labels, 1));
        Assert.All(model.parameters(), p => Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0));
    }

    [Theory]
    [InlineData("llama", 7 * 257)]
    [InlineData("gemma2", 4 * 257)]
    [InlineData("llama", 1L << 24)]
    public void Blockwise_token_scores_equal_the_scores_of_the_whole_logits(string family, long blockElements)
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.CreateRandom(TinyTrainableModels.Config(family, layers: 2), seed: 9);
        model.eval();
        using var _ = no_grad();
        manual_seed(4);
        var ids = randint(0, 257, [3, 17]);
        var labels = ids.clone();
        labels[1, ..5] = tensor(TokenizedExample.IgnoreIndex);
        labels[2, 12..] = tensor(TokenizedExample.IgnoreIndex);

        var (denseLogProbs, denseHits, denseMask) = CausalLmLoss.TokenScores(model.call(ids), labels);
        var (logProbs, hits, mask) = CausalLmLoss.TokenScores(model, ids, labels, blockElements);

        Assert.Equal(new long[] { 3, 16 }, logProbs.shape);
        Assert.True(mask.eq(denseMask).all().item<bool>());
        Assert.True(hits.eq(denseHits).all().item<bool>());
        Assert.True(logProbs.allclose(denseLogProbs, rtol: 1e-5, atol: 1e-5));
        Assert.True(logProbs.where(mask.logical_not(), zeros_like(logProbs)).abs().max().item<float>() == 0); // unscored are 0
        Assert.True(logProbs.lt(0).logical_or(mask.logical_not()).all().item<bool>());
    }

    static double Dense(CausalLM model, Tensor ids, Tensor labels, long scored)
    {
        using var logits = model.call(ids);
        using var loss = CausalLmLoss.Sum(logits, labels).div(scored);
        loss.backward();
        return loss.item<float>();
    }

    static Tensor[] TakeGradients(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        var grads = parameters.Select(p => p.grad!.clone()).ToArray();
        foreach (var p in parameters)
            p.grad!.zero_();
        return grads;
    }
}
