using System.Text.RegularExpressions;
using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Training.Evaluation;
using LoraService.Training.Models;
using LoraService.Tokenization;
using LoraService.Tokenization.Tests;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>A bigram model with a fixed table: logits at a position are the log-probabilities of row [current token].</summary>
public sealed class BigramModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding table;

    public BigramModel(double[][] probabilities) : base(nameof(BigramModel))
    {
        var vocab = probabilities.Length;
        table = nn.Embedding(vocab, vocab);
        using (no_grad())
            table.weight!.copy_(tensor(probabilities.SelectMany(row => row.Select(p => (float)Math.Log(p))).ToArray(), [vocab, vocab]));
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds) => table.call(inputIds);
}

/// <summary>Letters a, b, c are ids 0, 1, 2; nothing else.</summary>
public sealed class LetterTokenizer : ITokenizer
{
    public int[] Encode(string text) => text.Select(c => c - 'a').ToArray();
    public string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(i => (char)('a' + i)));
    public SpecialTokens Special { get; } = new(null, null, null);
    public bool AddBos => false;
    public int? TokenToId(string token) => token.Length == 1 ? token[0] - 'a' : null;
}

public sealed class EvaluationTests
{
    private static readonly double[][] Table =
    [
        [0.5, 0.25, 0.25],
        [0.1, 0.8, 0.1],
        [0.2, 0.3, 0.5],
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Loss_perplexity_and_token_accuracy_match_hand_computation(int batchSize)
    {
        using var model = new BigramModel(Table);
        TokenizedExample[] examples =
        [
            new([0, 1, 1, 2], [-100, 1, 1, 2]),   // p = .25, .8, .1 ; argmax hits only the second
            new([2, 0], [2, 0]),                   // p = .2 ; argmax 2 ≠ 0
        ];

        var metrics = LossEvaluator.Evaluate(model, examples, batchSize, padId: 0, CPU);

        var expectedLoss = -(Math.Log(0.25) + Math.Log(0.8) + Math.Log(0.1) + Math.Log(0.2)) / 4;
        Assert.Equal(expectedLoss, metrics["loss"], 5);
        Assert.Equal(Math.Exp(expectedLoss), metrics["perplexity"], 4);
        Assert.Equal(0.25, metrics["token_accuracy"], 12);
    }

    [Fact]
    public void Acc_sums_log_probs_and_acc_norm_averages_them_per_token()
    {
        ChoiceScore[] choices = [new(-4.0, 4), new(-3.0, 1)];
        Assert.Equal((false, true), MultipleChoiceScoring.Score(choices, 0));
        Assert.Equal((true, false), MultipleChoiceScoring.Score(choices, 1));
        Assert.Equal((true, true), MultipleChoiceScoring.Score([new(-1.0, 2), new(-1.0, 1)], 0)); // ties → lowest index for acc
    }

    [Fact]
    public void Multiple_choice_evaluator_scores_continuations_with_the_model()
    {
        using var model = new BigramModel(Table);
        MultipleChoiceExample[] examples =
        [
            // "b": ln .25 (mean −1.39); "cc": ln .25 + ln .5 (sum −2.08, mean −1.04) → acc picks b, acc_norm picks cc.
            new("a", ["b", "cc"], 1),
            // "b": ln .8; "a": ln .1 → both pick b.
            new("b", ["a", "b"], 1),
        ];

        var result = MultipleChoiceEvaluator.Evaluate(model, new LetterTokenizer(), examples, CPU,
            new MultipleChoiceOptions(Delimiter: "", Batches: new BatchLimits(MaxRows: 3)));

        Assert.Equal(0.5, result.Metrics["acc"], 12);
        Assert.Equal(1.0, result.Metrics["acc_norm"], 12);
        // Samples: the context, the acc_norm pick and the labelled choice.
        Assert.Equal([new EvalSample("a", "cc", "cc", true), new EvalSample("b", "b", "b", true)], result.Samples);
    }

    [Fact]
    public void Multiple_choice_sequences_score_only_the_choice_and_keep_it_when_truncating()
    {
        var tokenizer = new LetterTokenizer();
        var example = MultipleChoiceEvaluator.Build(tokenizer, "abcab", "cc", new MultipleChoiceOptions(Delimiter: "", MaxSequenceLength: 4));
        Assert.Equal([0, 1, 2, 2], example.InputIds);
        Assert.Equal([-100, -100, 2, 2], example.Labels);
    }

    [Theory]
    [InlineData("so the total is #### 1,234.", "1234", true)]
    [InlineData("#### -5", "-5", true)]
    [InlineData("#### $72", "72", false)]                 // strict pattern needs a digit right after "#### "
    [InlineData("Natalia sold 72 clips", "72", false)]   // no "#### " → nothing extracted
    [InlineData("#### 72", "48 + 24 = 72\n#### 72", true)]
    [InlineData("#### 7.5", "7.50", false)]
    public void Gsm8k_strict_extraction(string generation, string reference, bool correct) =>
        Assert.Equal(correct, AnswerExtraction.IsCorrect(generation, reference));

    [Fact]
    public void Custom_answer_pattern_uses_its_first_group()
    {
        var pattern = new Regex(@"answer: (\w+)");
        Assert.Equal("yes", AnswerExtraction.Extract("the answer: yes", pattern));
        Assert.True(AnswerExtraction.IsCorrect("the answer: yes", "yes", pattern));
    }

    [Fact]
    public void Exact_match_decodes_the_generation_up_to_eos()
    {
        using var tokenizer = HfTokenizer.Load(TinyTokenizerFiles.Write());
        var eos = tokenizer.Special.EosId!.Value;
        var seenPrompts = new List<int[]>();
        int[][] Generate(IReadOnlyList<int[]> prompts, int budget)
        {
            seenPrompts.AddRange(prompts);
            return prompts.Select(prompt =>
            {
                var answer = tokenizer.Decode(prompt) == "Q1" ? "#### 42" : "#### 7";
                return (int[])[.. tokenizer.Encode(answer), eos, .. tokenizer.Encode("#### 0")];
            }).ToArray();
        }

        var result = ExactMatchEvaluator.Evaluate(tokenizer,
            [new ExactMatchExample("Q1", "42"), new ExactMatchExample("Q2", "8"), new ExactMatchExample("Q3", "7")], Generate,
            new ExactMatchOptions(MaxNewTokens: 16, Samples: 2));

        Assert.Equal(2.0 / 3, result.Metrics["exact_match"], 12);
        Assert.Equal(TinyTokenizerFiles.Bytes("Q1"), seenPrompts[0]);
        Assert.Equal([new EvalSample("Q1", "#### 42", "42", true), new EvalSample("Q2", "#### 7", "8", false)], result.Samples);
    }
}
