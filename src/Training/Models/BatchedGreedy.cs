using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// Rows and tokens one generation or scoring batch may hold. <see cref="MaxTokens"/> bounds memory: a generation batch
/// counts each row's padded prompt plus its new tokens (the KV cache it ends with), a scoring batch its padded sequences.
/// </summary>
public sealed record BatchLimits(int MaxRows = 32, int MaxTokens = 4096)
{
    public static readonly BatchLimits Default = new();
    /// <summary>One row per batch: one prompt or sequence at a time.</summary>
    public static readonly BatchLimits OneAtATime = new(1, int.MaxValue);

    /// <summary>
    /// Groups items into batches of similar length: sorted by <paramref name="lengths"/> (longest first, ties in input
    /// order), each batch as long as rows × (its longest length + <paramref name="extraPerRow"/>) fits <see cref="MaxTokens"/>
    /// and it has at most <see cref="MaxRows"/> rows. An item too long for the budget gets a batch of its own.
    /// </summary>
    public IReadOnlyList<int[]> Plan(IReadOnlyList<int> lengths, int extraPerRow = 0)
    {
        var order = Enumerable.Range(0, lengths.Count).OrderByDescending(i => lengths[i]).ThenBy(i => i).ToArray();
        var batches = new List<int[]>();
        var current = new List<int>();
        long longest = 0;
        foreach (var i in order)
        {
            var width = Math.Max(longest, lengths[i] + (long)extraPerRow);
            if (current.Count > 0 && (current.Count + 1 > MaxRows || (current.Count + 1) * width > MaxTokens))
            {
                batches.Add([.. current]);
                current.Clear();
                width = lengths[i] + (long)extraPerRow;
            }
            current.Add(i);
            longest = width;
        }
        if (current.Count > 0)
            batches.Add([.. current]);
        return batches;
    }
}

/// <summary>
/// Greedy decoding of many prompts at once with a KV cache, giving each prompt the tokens
/// <see cref="CausalLM.GenerateGreedy"/> gives it alone: prompts are left-padded to a common length, padded keys are
/// masked, and each row's positions start at 0 at its first real token (RoPE and GPT-2's learned positions see what they
/// see unpadded; a sliding window counts the same keys since padding is only on the left). A row stops at EOS (kept), at
/// the token budget, or where its own sequence would pass <c>max_position_embeddings</c>; finished rows leave the batch
/// and the cache, and cached columns that only padding of the remaining rows occupies are dropped.
/// </summary>
public static class BatchedGreedy
{
    /// <returns>The new tokens of each prompt, in the order of <paramref name="prompts"/>.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every step).</exception>
    public static int[][] Generate(CausalLM model, IReadOnlyList<int[]> prompts, int maxNewTokens, int? eosId = null,
        BatchLimits? limits = null, CancellationToken cancellationToken = default) =>
        Generate(model, prompts, maxNewTokens, eosId, limits, cancellationToken, observeLogits: null);

    /// <param name="observeLogits">Test hook: each step's last-position logits <c>[rows, V]</c> with the prompt index of each row.</param>
    internal static int[][] Generate(CausalLM model, IReadOnlyList<int[]> prompts, int maxNewTokens, int? eosId,
        BatchLimits? limits, CancellationToken cancellationToken, Action<int[], Tensor>? observeLogits)
    {
        if (prompts.Any(p => p.Length == 0))
            throw new ArgumentException("every prompt must hold at least one token", nameof(prompts));
        limits ??= BatchLimits.Default;
        var results = new int[prompts.Count][];
        var max = model.Config.MaxPositions;
        // A prompt longer than the model's positions gets nothing, as GenerateGreedy refuses its first step.
        var fitting = Enumerable.Range(0, prompts.Count).Where(i => prompts[i].Length <= max).ToArray();
        foreach (var i in Enumerable.Range(0, prompts.Count).Except(fitting))
            results[i] = [];
        if (maxNewTokens <= 0)
        {
            foreach (var i in fitting)
                results[i] = [];
            return results;
        }
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            var plan = limits.Plan(fitting.Select(i => prompts[i].Length).ToArray(), maxNewTokens);
            foreach (var batch in plan)
            {
                var members = batch.Select(b => fitting[b]).ToArray();
                var outputs = GenerateBatch(model, members.Select(i => prompts[i]).ToArray(), maxNewTokens, eosId, cancellationToken,
                    observeLogits is null ? null : (rows, logits) => observeLogits(rows.Select(r => members[r]).ToArray(), logits));
                for (var r = 0; r < members.Length; r++)
                    results[members[r]] = outputs[r];
            }
            return results;
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    static int[][] GenerateBatch(CausalLM model, int[][] prompts, int maxNewTokens, int? eosId, CancellationToken ct, Action<int[], Tensor>? observe)
    {
        var device = model.parameters().First().device;
        var max = model.Config.MaxPositions;
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        var longest = prompts.Max(p => p.Length);
        // Per live row: its prompt index, its left padding in the cache, and the position of its next input token.
        var rows = Enumerable.Range(0, prompts.Length).ToArray();
        var pads = prompts.Select(p => (long)(longest - p.Length)).ToArray();
        var nextPosition = prompts.Select(p => (long)p.Length).ToArray();

        var ids = new long[prompts.Length * longest];
        var positions = new long[prompts.Length * longest];
        for (var r = 0; r < prompts.Length; r++)
            for (var j = 0; j < longest; j++)
            {
                var real = j - pads[r];
                ids[r * longest + j] = real >= 0 ? prompts[r][real] : 0;
                positions[r * longest + j] = Math.Max(real, 0);
            }
        var input = (Ids: ids, Positions: positions, Width: (long)longest);

        // Room for the longest prompt and every new token: decoding steps then write in place.
        using var cache = new KvCache(model.Config.NumLayers, capacity: longest + maxNewTokens);
        for (var step = 0; rows.Length > 0; step++)
        {
            ct.ThrowIfCancellationRequested();
            Pipeline.RunPulse.Beat();
            int[] tokens;
            using (var scope = NewDisposeScope())
            {
                var live = rows.Length;
                var idTensor = tensor(input.Ids, [live, input.Width], ScalarType.Int64).to(device);
                var positionTensor = tensor(input.Positions, [live, input.Width], ScalarType.Int64).to(device);
                var keys = cache.Length + input.Width;
                // No mask when no row is padded: the same attention path as an unpadded prompt alone.
                var mask = pads.Any(p => p > 0)
                    ? arange(keys, ScalarType.Int64, device).unsqueeze(0).ge(tensor(pads, ScalarType.Int64).to(device).unsqueeze(1)).to_type(ScalarType.Int64)
                    : null;
                var logits = model.Forward(idTensor, cache, mask, positionTensor, lastTokenOnly: true)[.., -1];
                observe?.Invoke(rows, logits);
                tokens = logits.argmax(-1).cpu().data<long>().Select(t => (int)t).ToArray();
            }

            var keep = new List<int>();
            for (var r = 0; r < rows.Length; r++)
            {
                var row = rows[r];
                generated[row].Add(tokens[r]);
                var produced = generated[row].Count;
                // GenerateGreedy's limits: the token budget, EOS, and a next step that would pass max_position_embeddings.
                var done = tokens[r] == eosId || produced >= maxNewTokens || prompts[row].Length + produced > max;
                if (!done)
                    keep.Add(r);
            }
            if (keep.Count == 0)
                break;
            if (keep.Count < rows.Length)
            {
                var leading = keep.Min(r => pads[r]);
                using var kept = tensor(keep.Select(r => (long)r).ToArray(), ScalarType.Int64).to(device);
                cache.Keep(kept, leading);
                pads = keep.Select(r => pads[r] - leading).ToArray();
                nextPosition = keep.Select(r => nextPosition[r]).ToArray();
                tokens = keep.Select(r => tokens[r]).ToArray();
                rows = keep.Select(r => rows[r]).ToArray();
            }
            input = (tokens.Select(t => (long)t).ToArray(), nextPosition.ToArray(), 1);
            for (var r = 0; r < nextPosition.Length; r++)
                nextPosition[r]++;
        }
        return generated.Select(g => g.ToArray()).ToArray();
    }
}
