namespace LoraService.Datasets;

/// <summary>One parsed dataset row.</summary>
public abstract record DatasetExample;

public sealed record TextExample(string Text) : DatasetExample;

public sealed record PromptCompletionExample(string Prompt, string Completion) : DatasetExample;

/// <param name="Weight">0 excludes an assistant turn from the loss; null means the default (trained).</param>
public sealed record ChatMessage(string Role, string Content, int? Weight = null);

public sealed record ChatExample(IReadOnlyList<ChatMessage> Messages) : DatasetExample;

public sealed record MultipleChoiceExample(string Context, IReadOnlyList<string> Choices, int Label) : DatasetExample;

/// <param name="Answer">The reference answer as text (numbers keep their JSON spelling).</param>
public sealed record ExactMatchExample(string Prompt, string Answer) : DatasetExample;
