namespace LoraService.Datasets;

/// <summary>The JSONL row shapes the service accepts.</summary>
public enum DatasetFormat
{
    /// <summary><c>{"text": "..."}</c></summary>
    Text,
    /// <summary><c>{"prompt": "...", "completion": "..."}</c></summary>
    PromptCompletion,
    /// <summary>OpenAI chat: <c>{"messages": [{"role", "content", "weight"?}]}</c></summary>
    Messages,
    /// <summary><c>{"context": "...", "choices": ["...", ...], "label": 0}</c></summary>
    MultipleChoice,
    /// <summary><c>{"prompt": "...", "answer": "..." | 42}</c></summary>
    ExactMatch,
}

public static class DatasetFormatNames
{
    public static string ToWireName(this DatasetFormat format) => format switch
    {
        DatasetFormat.Text => "text",
        DatasetFormat.PromptCompletion => "prompt_completion",
        DatasetFormat.Messages => "messages",
        DatasetFormat.MultipleChoice => "multiple_choice",
        DatasetFormat.ExactMatch => "exact_match",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    public static bool TryParse(string name, out DatasetFormat format)
    {
        foreach (var candidate in Enum.GetValues<DatasetFormat>())
        {
            if (candidate.ToWireName() == name)
            {
                format = candidate;
                return true;
            }
        }
        format = default;
        return false;
    }
}
