namespace LoraService.Contracts.Jobs;

/// <summary>What the validator needs to know about the base model; the service reads it from its catalog, the CLI from the folder.</summary>
/// <param name="ChatTemplate"><see cref="ChatTemplateNames.Model"/> when the tokenizer's Jinja <c>chat_template</c> parses,
/// <see cref="ChatTemplateNames.Unrecognised"/> when it does not, null when it has none.</param>
/// <param name="NameOrPath">What a user loads the model by (<c>base_model_name_or_path</c> of the adapter).</param>
/// <param name="Supported">False when the engine cannot compute this model exactly; <paramref name="UnsupportedReason"/> says why
/// (naming the config field at fault).</param>
public sealed record ModelFacts(
    string NameOrPath,
    string Architecture,
    long Parameters,
    int HiddenSize,
    int MaxPositions,
    IReadOnlyList<string> LoraTargets,
    string? ChatTemplate,
    bool Supported = true,
    string? UnsupportedReason = null);

/// <summary>A dataset a spec refers to, as found. <paramref name="Reference"/> is its canonical form (the id, or the full path).</summary>
public sealed record DatasetFacts(string Reference, string Name, string Format);

/// <summary>The world a spec is checked against. A null model means it was not found (the message says why).</summary>
public sealed record JobSpecContext(
    ModelFacts? Model,
    string? ModelProblem,
    Func<string, DatasetFacts?> FindDataset,
    string DatasetHint = "");

public static class ChatTemplateNames
{
    public const string ChatMl = "chatml";
    public const string Llama3 = "llama3";
    public const string Plain = "plain";
    /// <summary>The model's own Jinja chat template, executed.</summary>
    public const string Model = "model";
    /// <summary>The tokenizer has a chat template the service's Jinja engine cannot parse.</summary>
    public const string Unrecognised = "unrecognised";

    public static readonly IReadOnlyList<string> Known = [ChatMl, Llama3, Plain];
}

public static class DatasetFormats
{
    public static readonly IReadOnlyList<string> Trainable = ["text", "prompt_completion", "messages"];
    public static readonly IReadOnlyList<string> Evaluable = ["text", "prompt_completion", "messages", "multiple_choice", "exact_match"];
}
