namespace LoraService.Tokenization;

/// <summary>Token ids of the special tokens a model was trained with; null where it has none.</summary>
public sealed record SpecialTokens(int? BosId, int? EosId, int? PadId)
{
    /// <summary>The id used to pad micro-batches: pad, else eos, else 0 (padding is never scored).</summary>
    public int PaddingId => PadId ?? EosId ?? 0;
}

/// <summary>What the data pipeline and evaluators need from a tokenizer.</summary>
public interface ITokenizer
{
    /// <summary>Encodes text without adding any special token; added tokens written in the text are recognised.</summary>
    int[] Encode(string text);

    string Decode(IReadOnlyList<int> ids);

    SpecialTokens Special { get; }

    /// <summary>Whether sequences start with BOS (e.g. Llama), which <see cref="Encode"/> never adds itself.</summary>
    bool AddBos { get; }

    /// <summary>The id of a token written exactly like this (vocabulary or added token).</summary>
    int? TokenToId(string token);
}
