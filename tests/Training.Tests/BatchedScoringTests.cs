using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Training.Evaluation;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>
/// Loss and multiple-choice scoring batched by length give what scoring each sequence alone gives: on a bigram table
/// computed by hand, and on small random transformers, where a padding mistake would leak into the real tokens.
/// </summary>
public sealed class BatchedScoringTests
{
    static readonly double[][] Table = [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]];

    // Different lengths and label layouts: prompt tokens unscored, every token scored, a single scored token.
    static readonly TokenizedExample[] Sequences =
    [
        new([0, 1, 1, 2], [-100, 1, 1, 2]),
        new([2, 0], [2, 0]),
        new([1, 1, 1, 1, 1, 2, 0], [-100, -100, -100, 1, 1, 2, 0]),
        new([0, 2, 2], [-100, -100, 2]),
        new([2, 2, 1, 0, 0, 1], [2, 2, 1, 0, 0, 1]),
    ];

    public static TheoryData<int, int> Limits => new() { { 1, int.MaxValue }, { 2, int.MaxValue }, { 32, 4096 }, { 32, 12 } };

    [Theory]
    [MemberData(nameof(Limits))]
    public void Bigram_sequence_scores_equal_the_hand_computed_log_likelihoods_in_any_batching(int rows, int tokens)
    {
        using var model = new BigramModel(Table);
        var scores = SequenceScoring.Score(model, Sequences, padId: 0, CPU, new BatchLimits(rows, tokens));

        for (var i = 0; i < Sequences.Length; i++)
        {
            var (ids, labels) = (Sequences[i].InputIds, Sequences[i].Labels);
            double sum = 0;
            int count = 0, correct = 0;
            for (var t = 1; t < ids.Length; t++)
            {
                if (labels[t] < 0) continue;
                sum += Math.Log(Table[ids[t - 1]][labels[t]]);
                count++;
                var best = Array.IndexOf(Table[ids[t - 1]], Table[ids[t - 1]].Max());
                if (best == labels[t]) correct++;
            }
            Assert.Equal(sum, scores[i].SumLogProb, 5);
            Assert.Equal((count, correct), (scores[i].ScoredTokens, scores[i].CorrectTokens));
        }
    }

    static CausalLM Transformer(string family) => family == "gpt2"
        ? ModelFactory.CreateRandom(ModelFactory.TinyGpt2(), seed: 3)
        : ModelFactory.CreateRandom(ModelFactory.TinyLlama(), seed: 3);

    static TokenizedExample[] RandomSequences()
    {
        var random = new Random(5);
        return Enumerable.Range(0, 11).Select(i =>
        {
            var length = 2 + random.Next(20);
            var ids = Enumerable.Range(0, length).Select(_ => random.Next(256)).ToArray();
            var prompt = random.Next(length - 1);
            return new TokenizedExample(ids, ids.Select((id, t) => t <= prompt ? -100 : id).ToArray());
        }).ToArray();
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Transformer_sequence_scores_and_loss_do_not_depend_on_the_batch(string family)
    {
        using var model = Transformer(family);
        var sequences = RandomSequences();
        var alone = SequenceScoring.Score(model, sequences, padId: 7, CPU, BatchLimits.OneAtATime);
        var batched = SequenceScoring.Score(model, sequences, padId: 7, CPU, new BatchLimits(4, 64));

        for (var i = 0; i < sequences.Length; i++)
        {
            Assert.True(Math.Abs(alone[i].SumLogProb - batched[i].SumLogProb) <= 1e-4, $"sequence {i}: {alone[i]} vs {batched[i]}");
            Assert.Equal((alone[i].ScoredTokens, alone[i].CorrectTokens), (batched[i].ScoredTokens, batched[i].CorrectTokens));
        }
        var lossAlone = LossEvaluator.Evaluate(model, sequences, BatchLimits.OneAtATime, 7, CPU);
        var lossBatched = LossEvaluator.Evaluate(model, sequences, BatchLimits.Default, 7, CPU);
        Assert.Equal(lossAlone["loss"], lossBatched["loss"], 5);
        Assert.Equal(lossAlone["token_accuracy"], lossBatched["token_accuracy"], 12);
    }

    [Fact]
    public void Multiple_choice_accuracy_and_samples_do_not_depend_on_the_batch()
    {
        using var model = Transformer("llama");
        var tokenizer = new LetterTokenizer();
        var random = new Random(9);
        string Word(int min, int max) => new([.. Enumerable.Range(0, random.Next(min, max)).Select(_ => (char)('a' + random.Next(3)))]);
        var questions = Enumerable.Range(0, 12).Select(_ =>
        {
            var choices = Enumerable.Range(0, 2 + random.Next(3)).Select(_ => Word(1, 6)).ToList();
            return new MultipleChoiceExample(Word(1, 15), choices, random.Next(choices.Count));
        }).ToList();

        var alone = MultipleChoiceEvaluator.Evaluate(model, tokenizer, questions, CPU,
            new MultipleChoiceOptions(Delimiter: "", Batches: BatchLimits.OneAtATime, Samples: 12));
        var batched = MultipleChoiceEvaluator.Evaluate(model, tokenizer, questions, CPU,
            new MultipleChoiceOptions(Delimiter: "", Batches: new BatchLimits(8, 100), Samples: 12));

        Assert.Equal(alone.Metrics, batched.Metrics);
        Assert.Equal(alone.Samples, batched.Samples);
        Assert.Equal(questions.Select(q => q.Context), batched.Samples.Select(s => s.Prompt));
        Assert.Equal(questions.Select(q => q.Choices[q.Label]), batched.Samples.Select(s => s.Expected));
        Assert.All(batched.Samples, s => Assert.Equal(s.Output == s.Expected, s.Correct));
    }
}
