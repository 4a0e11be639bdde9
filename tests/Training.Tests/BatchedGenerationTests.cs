using LoraService.Training.Checkpoints;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>
/// Batched greedy generation against one prompt at a time (<see cref="CausalLM.GenerateGreedy"/>): the same tokens for
/// prompts of different lengths, on every architecture family, with windows, EOS and the position limit in play.
/// </summary>
public sealed class BatchedGenerationTests
{
    // Lengths 1 to 13, deliberately unsorted, so every batch pads some rows; ids below the smallest vocabulary (96).
    static readonly int[][] Prompts =
    [
        [3, 17, 42, 91, 5],
        [7],
        [11, 23, 35, 47, 59, 71, 83, 85, 93, 91, 2, 4, 6],
        [64, 32],
        [1, 2, 3, 4, 5, 6, 7, 8],
        [93, 90, 80],
    ];

    /// <summary>A loaded model, and a temporary folder that must outlive it (Gemma 2 is written on the fly).</summary>
    sealed class Subject(CausalLM model, IDisposable? folder = null) : IDisposable
    {
        public CausalLM Model { get; } = model;

        public void Dispose()
        {
            Model.Dispose();
            folder?.Dispose();
        }
    }

    static Subject Load(string name)
    {
        switch (name)
        {
            case "gemma2-window4":
            {
                var dir = new TempDir();
                return new Subject(CheckpointLoader.Load(Gemma2Tests.WriteCheckpoint(dir, Gemma2Tests.Weights())), dir);
            }
            case "mistral-window4":
            {
                // The golden Mistral's window (64) is longer than these sequences; 4 makes it bite.
                using var golden = CheckpointLoader.Load(Golden.Dir("mistral-f32"));
                var narrow = CheckpointLoader.Create(golden.Config with { SlidingWindow = 4 });
                narrow.load_state_dict(golden.state_dict());
                return new Subject(narrow);
            }
            default:
                return new Subject(CheckpointLoader.Load(Golden.Dir(name)));
        }
    }

    public static TheoryData<string> Architectures => new(
        "llama-f32", "gpt2-f32", "qwen2-f32", "qwen3-f32", "phi3-f32", "llama-rope-llama3", "llama-rope-linear",
        "llama-headdim-mlpbias", "mistral-window4", "gemma2-window4");

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Batched_generation_gives_each_prompt_the_tokens_it_gets_alone(string name)
    {
        using var subject = Load(name);
        var model = subject.Model;
        var alone = Prompts.Select(p => model.GenerateGreedy(p, 16)).ToArray();

        var batched = BatchedGreedy.Generate(model, Prompts, 16);

        Assert.All(alone, a => Assert.Equal(16, a.Length));
        Assert.Equal(alone, batched);
    }

    [Theory]
    [InlineData("llama-f32")]
    [InlineData("gpt2-f32")]
    [InlineData("phi3-f32")]
    [InlineData("gemma2-window4")]
    public void Rows_stop_at_their_own_eos_and_the_rest_continue(string name)
    {
        using var subject = Load(name);
        var model = subject.Model;
        // An EOS that some prompts produce early and others not at all: rows finish at different steps.
        var free = Prompts.Select(p => model.GenerateGreedy(p, 12)).ToArray();
        var eos = free.SelectMany(f => f.Take(6)).GroupBy(t => t).OrderBy(g => g.Count()).ThenBy(g => g.Key).First().Key;
        var alone = Prompts.Select(p => model.GenerateGreedy(p, 12, eos)).ToArray();
        Assert.Contains(alone, a => a.Length < 12 && a[^1] == eos);
        Assert.Contains(alone, a => a.Length == 12);

        var batched = BatchedGreedy.Generate(model, Prompts, 12, eos);

        Assert.Equal(alone, batched);
    }

    [Fact]
    public void A_row_stops_where_its_own_sequence_reaches_the_position_limit()
    {
        using var subject = Load("gpt2-f32"); // n_positions = 64
        var model = subject.Model;
        int[][] prompts = [[.. Enumerable.Range(0, 60).Select(i => i % 100)], [5, 6], [.. Enumerable.Range(1, 64)], [.. Enumerable.Range(2, 70)]];
        var alone = prompts.Select(p => model.GenerateGreedy(p, 10)).ToArray();
        Assert.Equal([5, 10, 1, 0], alone.Select(a => a.Length)); // 60 + 5 > 64 stops; 64 tokens get one; 70 get none

        var batched = BatchedGreedy.Generate(model, prompts, 10);

        Assert.Equal(alone, batched);
    }

    [Theory]
    [InlineData(1, 4096)]   // one at a time
    [InlineData(2, 4096)]   // pairs of similar length
    [InlineData(32, 60)]    // bounded by tokens: rows × (longest prompt + 16)
    public void Batch_limits_change_the_batches_not_the_tokens(int rows, int tokens)
    {
        using var subject = Load("qwen2-f32");
        var model = subject.Model;
        var reference = BatchedGreedy.Generate(model, Prompts, 16);
        Assert.Equal(reference, BatchedGreedy.Generate(model, Prompts, 16, limits: new BatchLimits(rows, tokens)));
    }

    [Theory]
    [InlineData("llama-f32")]
    [InlineData("gpt2-f32")]
    [InlineData("mistral-window4")]
    [InlineData("gemma2-window4")]
    [InlineData("phi3-f32")]
    public void Each_steps_cached_logits_equal_a_full_forward_of_the_sequence_so_far(string name)
    {
        using var subject = Load(name);
        var model = subject.Model;
        var outputs = BatchedGreedy.Generate(model, Prompts, 10);
        var seen = new int[Prompts.Length];
        var compared = 0;
        var worst = 0.0;
        using var _ = no_grad();

        BatchedGreedy.Generate(model, Prompts, 10, null, null, CancellationToken.None, (rows, logits) =>
        {
            for (var r = 0; r < rows.Length; r++)
            {
                var p = rows[r];
                long[] sequence = [.. Prompts[p].Concat(outputs[p].Take(seen[p])).Select(t => (long)t)];
                using var full = model.call(tensor(sequence).unsqueeze(0));
                using var last = full[0, -1];
                using var difference = logits[r].sub(last).abs().max();
                worst = Math.Max(worst, difference.item<float>());
                seen[p]++;
                compared++;
            }
        });

        Assert.Equal(Prompts.Length * 10, compared);
        Assert.True(worst <= 1e-5, $"largest difference {worst}");
    }

    [Fact]
    public void Plan_sorts_by_length_and_respects_rows_and_tokens()
    {
        var plan = new BatchLimits(MaxRows: 2, MaxTokens: 30).Plan([3, 10, 4, 9, 1, 20], extraPerRow: 5);
        // Longest first: 20 (25 tokens, alone: two rows would be 50), 10+9 (2 × 15), 4+3 (2 × 9), 1.
        Assert.Equal([[5], [1, 3], [2, 0], [4]], plan);
        Assert.Equal([[0], [1], [2]], BatchLimits.OneAtATime.Plan([1, 1, 1]));
    }
}
