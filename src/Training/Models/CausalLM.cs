using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Models;

/// <summary>
/// A decoder-only language model whose module tree mirrors the Hugging Face class, so
/// <c>state_dict()</c> names equal the checkpoint keys. Maps token ids <c>[B, T]</c> (int64) to logits <c>[B, T, V]</c>.
/// </summary>
public abstract class CausalLM(string name, ModelConfig config) : nn.Module<Tensor, Tensor>(name)
{
    public ModelConfig Config { get; } = config;

    /// <summary>Recompute each decoder layer's activations in backward instead of keeping them (training only).</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>Whether this forward call should checkpoint its layers: training with a graph, no KV cache.</summary>
    protected bool CheckpointsLayers(KvCache? cache) => GradientCheckpointing && training && cache is null && is_grad_enabled();

    public override Tensor forward(Tensor ids) => Forward(ids, null);

    /// <summary>The final hidden states <c>[B, T, H]</c> (after the last norm), before the output head; arguments as <see cref="Forward"/>.</summary>
    public abstract Tensor Hidden(Tensor ids, KvCache? cache, Tensor? attentionMask = null, Tensor? positionIds = null);

    /// <summary>The output head on hidden states <c>[…, H]</c>: logits <c>[…, V]</c> (with the model's final soft-capping, if any).</summary>
    public abstract Tensor Head(Tensor hidden);

    /// <summary>
    /// Logits for <paramref name="ids"/>, which continue the tokens already in <paramref name="cache"/> (if any).
    /// <paramref name="attentionMask"/> is HF's <c>attention_mask</c> <c>[B, cached + T]</c> (1 = token, 0 = padding):
    /// padded keys are hidden. Positions are cached..cached+T-1 unless <paramref name="positionIds"/> <c>[B, T]</c> (int64)
    /// gives each row its own (HF's <c>position_ids</c>: a left-padded row starts at 0 at its first real token).
    /// With <paramref name="lastTokenOnly"/> only the last position's logits are computed (<c>[B, 1, V]</c>), as generation needs.
    /// </summary>
    public Tensor Forward(Tensor ids, KvCache? cache, Tensor? attentionMask = null, Tensor? positionIds = null, bool lastTokenOnly = false)
    {
        using var all = Hidden(ids, cache, attentionMask, positionIds);
        using var h = lastTokenOnly ? all.narrow(1, all.shape[1] - 1, 1) : all.alias();
        return Head(h);
    }

    /// <summary>
    /// Checkpoint keys the model does not hold as parameters but that may legitimately appear in files
    /// (GPT-2 attention-mask buffers, the tied head).
    /// </summary>
    public abstract bool IsIgnorableKey(string key);

    /// <summary>Maps a checkpoint key to this model's parameter name (e.g. adds GPT-2's <c>transformer.</c> prefix).</summary>
    public virtual string NormaliseKey(string key) => key;

    /// <summary>Every projection LoRA may target, with its HF module path; the output head is excluded.</summary>
    public IReadOnlyList<(string Path, Projection Module)> Projections() =>
        named_modules()
            .Where(m => m.module is Projection && m.name != "lm_head")
            .Select(m => (m.name, (Projection)m.module))
            .ToList();

    /// <summary>Greedy decoding with a KV cache; stops after <paramref name="maxNewTokens"/> or at <paramref name="eosId"/> (included).</summary>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every new token).</exception>
    public int[] GenerateGreedy(int[] prompt, int maxNewTokens, int? eosId = null, CancellationToken cancellationToken = default)
    {
        if (prompt.Length == 0)
            throw new ArgumentException("the prompt must hold at least one token", nameof(prompt));
        var wasTraining = training;
        eval();
        try
        {
            using var _ = no_grad();
            using var cache = new KvCache(Config.NumLayers);
            var generated = new List<int>();
            var next = prompt.Select(t => (long)t).ToArray();
            for (var step = 0; step < maxNewTokens; step++)
            {
                if (cache.Length + next.Length > Config.MaxPositions)
                    break;
                cancellationToken.ThrowIfCancellationRequested();
                Pipeline.RunPulse.Beat();
                using var scope = NewDisposeScope();
                var device = parameters().First().device;
                var logits = Forward(tensor(next, device: device).unsqueeze(0), cache);
                var token = (int)logits[0, -1].argmax().item<long>();
                generated.Add(token);
                if (token == eosId)
                    break;
                next = [token];
            }
            return generated.ToArray();
        }
        finally
        {
            train(wasTraining);
        }
    }
}
