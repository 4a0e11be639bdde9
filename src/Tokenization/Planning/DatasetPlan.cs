using LoraService.Contracts.Jobs;
using LoraService.Datasets;

namespace LoraService.Tokenization.Planning;

/// <summary>What a run makes of one dataset reference of a job.</summary>
/// <param name="Field">Where the job names it: training_dataset, validation_dataset, evaluation.target[i], evaluation.source[i].</param>
/// <param name="Rows">Rows the run reads: all of the training set, the first <c>evaluation.max_examples</c> of the others.</param>
/// <param name="Examples">Examples trained on or scored for loss; for multiple_choice and exact_match sets, the rows.</param>
/// <param name="Tokens">Tokens of those examples; null for multiple_choice and exact_match sets (tokenized while evaluating).</param>
/// <param name="ScoredTokens">Tokens the loss scores; null where <paramref name="Tokens"/> is.</param>
/// <param name="Truncated">Rows longer than max_sequence_length, cut on the right.</param>
/// <param name="Dropped">Rows left with no scored token, which the run drops.</param>
public sealed record DatasetPlan(string Field, string Reference, DatasetUse Use, DatasetFormat Format,
    int Rows, int Examples, long? Tokens, long? ScoredTokens, int Truncated, int Dropped);
