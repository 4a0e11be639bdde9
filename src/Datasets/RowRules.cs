using System.Text.Json;

namespace LoraService.Datasets;

/// <summary>The per-row field rules of each format; messages name the field path.</summary>
internal static class RowRules
{
    public static readonly string[] Roles = ["system", "user", "assistant"];

    /// <summary>Classifies a row by its keys, most specific first.</summary>
    public static DatasetFormat? Detect(JsonElement row)
    {
        bool Has(string name) => row.TryGetProperty(name, out _);
        if (Has("messages")) return DatasetFormat.Messages;
        if (Has("choices")) return DatasetFormat.MultipleChoice;
        if (Has("prompt") && Has("completion")) return DatasetFormat.PromptCompletion;
        if (Has("prompt") && Has("answer")) return DatasetFormat.ExactMatch;
        if (Has("text")) return DatasetFormat.Text;
        return null;
    }

    public static void Check(JsonElement row, DatasetFormat format, List<string> errors)
    {
        switch (format)
        {
            case DatasetFormat.Text:
                NonEmptyString(row, "text", errors);
                break;
            case DatasetFormat.PromptCompletion:
                String(row, "prompt", errors);
                NonEmptyString(row, "completion", errors);
                break;
            case DatasetFormat.Messages:
                Messages(row, errors);
                break;
            case DatasetFormat.MultipleChoice:
                MultipleChoice(row, errors);
                break;
            case DatasetFormat.ExactMatch:
                String(row, "prompt", errors);
                if (Required(row, "answer", errors) is { } answer
                    && answer.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
                    errors.Add("answer must be a string or a number");
                break;
        }
    }

    private static void Messages(JsonElement row, List<string> errors)
    {
        if (Required(row, "messages", errors) is not { } messages) return;
        if (messages.ValueKind != JsonValueKind.Array)
        {
            errors.Add("messages must be an array");
            return;
        }
        if (messages.GetArrayLength() == 0)
        {
            errors.Add("messages must not be empty");
            return;
        }
        var hasAssistant = false;
        var i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var path = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{path} must be an object");
                continue;
            }
            if (String(message, "role", errors, path) is { } role)
            {
                if (!Roles.Contains(role))
                    errors.Add($"{path}.role must be one of {string.Join(", ", Roles)}");
                hasAssistant |= role == "assistant";
            }
            String(message, "content", errors, path);
            if (message.TryGetProperty("weight", out var weight)
                && !(weight.ValueKind == JsonValueKind.Number && weight.TryGetInt32(out var w) && w is 0 or 1))
                errors.Add($"{path}.weight must be 0 or 1");
        }
        if (!hasAssistant)
            errors.Add("messages must contain at least one assistant message");
    }

    private static void MultipleChoice(JsonElement row, List<string> errors)
    {
        String(row, "context", errors);
        var choiceCount = -1;
        if (Required(row, "choices", errors) is { } choices)
        {
            if (choices.ValueKind != JsonValueKind.Array)
                errors.Add("choices must be an array");
            else if ((choiceCount = choices.GetArrayLength()) < 2)
                errors.Add("choices must have at least 2 items");
            else
            {
                var i = 0;
                foreach (var choice in choices.EnumerateArray())
                {
                    if (choice.ValueKind != JsonValueKind.String)
                        errors.Add($"choices[{i}] must be a string");
                    i++;
                }
            }
        }
        if (Required(row, "label", errors) is not { } label) return;
        if (label.ValueKind != JsonValueKind.Number || !label.TryGetInt32(out var index))
            errors.Add("label must be an integer");
        else if (choiceCount >= 2 && (index < 0 || index >= choiceCount))
            errors.Add($"label must be between 0 and {choiceCount - 1}");
    }

    private static JsonElement? Required(JsonElement obj, string name, List<string> errors, string? parent = null)
    {
        if (obj.TryGetProperty(name, out var value)) return value;
        errors.Add($"{Path(parent, name)} is required");
        return null;
    }

    private static string? String(JsonElement obj, string name, List<string> errors, string? parent = null)
    {
        if (Required(obj, name, errors, parent) is not { } value) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        errors.Add($"{Path(parent, name)} must be a string");
        return null;
    }

    private static void NonEmptyString(JsonElement obj, string name, List<string> errors)
    {
        if (String(obj, name, errors) is "")
            errors.Add($"{name} must not be empty");
    }

    private static string Path(string? parent, string name) => parent is null ? name : $"{parent}.{name}";
}
