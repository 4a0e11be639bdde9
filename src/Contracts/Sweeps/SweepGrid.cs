using System.Text.Json.Nodes;
using LoraService.Contracts.Jobs;

namespace LoraService.Contracts.Sweeps;

/// <summary>One child of a sweep: its grid coordinates (in grid order) and the job spec they make, still as JSON.</summary>
public sealed record SweepChildPlan(string Label, JsonObject Coordinates, JsonObject Spec);

/// <summary>
/// Expands a sweep's base spec and grid into child specs: the cartesian product of the grid's value lists, where a grid
/// key is a dotted spec path. Settings that do not apply to a child collapse: a full fine-tuning child ignores every
/// <c>lora.*</c> key, so <c>method: [lora, full]</c> × <c>lora.rank: [4, 16]</c> is three children, not four. Without
/// <c>hyperparameters.learning_rate</c> in the grid or the base, each child gets its method's
/// <see cref="SweepDefaults.LearningRates"/>. Errors are keyed <c>grid.&lt;key&gt;</c> (or <c>grid</c>).
/// </summary>
public static class SweepGrid
{
    public const string LearningRate = "hyperparameters.learning_rate";
    /// <summary>A sweep compares its children on one plane: they share base model and eval sets; names are the sweep's.</summary>
    public static readonly IReadOnlyList<string> Fixed = ["base_model", "evaluation.target", "evaluation.source", "name"];
    private const int MaxValuesPerKey = 100;
    private const long MaxCombinations = 100_000;

    public static (IReadOnlyList<SweepChildPlan> Children, IReadOnlyDictionary<string, string[]> Errors) Expand(
        JsonObject baseSpec, JsonObject? grid, string sweepName, int maxChildren)
    {
        var errors = new Dictionary<string, string[]>();
        if (grid is null || grid.Count == 0)
        {
            errors["grid"] = ["grid must name at least one spec field to vary, e.g. {\"lora.rank\": [4, 16, 64]}."];
            return ([], errors);
        }
        var axes = new List<(string Key, JsonArray Values)>();
        foreach (var (key, node) in grid)
        {
            if (CheckAxis(key, node, grid) is { } problem) errors["grid." + key] = [problem];
            else axes.Add((key, (JsonArray)node!));
        }
        if (errors.Count > 0) return ([], errors);

        long combinations = 1;
        foreach (var (_, values) in axes) combinations = Math.Min(combinations * values.Count, MaxCombinations + 1);
        if (combinations > MaxCombinations)
        {
            errors["grid"] = [$"the grid has more than {MaxCombinations:N0} combinations; a sweep may have at most {maxChildren} children."];
            return ([], errors);
        }

        var learningRateFixed = axes.Any(a => a.Key == LearningRate || a.Key == "hyperparameters")
            || baseSpec["hyperparameters"] is JsonObject hp && hp.ContainsKey("learning_rate");
        var children = new List<SweepChildPlan>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var combination in Product(axes))
        {
            var method = MethodOf(combination, baseSpec);
            var applies = combination.Where(c => method != FineTuneMethod.Full || !IsLora(c.Key)).ToList();
            var rates = learningRateFixed ? [null] : SweepDefaults.LearningRates(method).Select(r => (double?)r);
            foreach (var rate in rates)
            {
                var coordinates = new List<(string Key, JsonNode? Value)>(applies);
                if (rate is { } r) coordinates.Add((LearningRate, Number(r)));
                var label = string.Join(",", coordinates.Select(c => $"{c.Key}={Text(c.Value)}"));
                if (!seen.Add(label)) continue;
                children.Add(new SweepChildPlan(label, Coordinates(coordinates), ChildSpec(baseSpec, coordinates, method, sweepName, label)));
            }
        }
        if (children.Count > maxChildren)
            errors["grid"] = [$"the grid expands to {children.Count} children; a sweep may have at most {maxChildren} (Sweeps:MaxChildren)."];
        return errors.Count > 0 ? ([], errors) : (children, errors);
    }

    private static string? CheckAxis(string key, JsonNode? node, JsonObject grid)
    {
        if (SpecPaths.FieldType(key) is null)
        {
            var last = key.Split('.')[^1];
            var like = SpecPaths.All().Where(p => p.Split('.')[^1] == last).ToList();
            return $"'{key}' is not a field of a job spec; grid keys are dotted spec paths such as method, lora.rank, hyperparameters.learning_rate" +
                (like.Count > 0 ? $" (did you mean {string.Join(" or ", like)}?)." : ".");
        }
        if (Fixed.FirstOrDefault(f => f == key || f.StartsWith(key + ".", StringComparison.Ordinal)) is { } fixedField)
            return $"'{fixedField}' cannot vary within a sweep: its children are compared on the same base model and eval sets, and named after the sweep.";
        if (grid.Select(g => g.Key).FirstOrDefault(other => other != key && key.StartsWith(other + ".", StringComparison.Ordinal)) is { } outer)
            return $"'{key}' overlaps the grid key '{outer}'; vary one or the other.";
        if (node is not JsonArray values) return "a grid value must be a list of the values to try, e.g. [4, 16].";
        if (values.Count == 0) return "the list of values is empty; give at least one.";
        if (values.Count > MaxValuesPerKey) return $"at most {MaxValuesPerKey} values per key.";
        for (var i = 0; i < values.Count; i++)
            for (var j = 0; j < i; j++)
                if (JsonNode.DeepEquals(values[i], values[j])) return $"the value {Text(values[i])} is listed twice.";
        return null;
    }

    /// <summary>Every combination, the first key varying slowest.</summary>
    private static IEnumerable<List<(string Key, JsonNode? Value)>> Product(List<(string Key, JsonArray Values)> axes)
    {
        var index = new int[axes.Count];
        while (true)
        {
            yield return [.. axes.Select((a, i) => (a.Key, a.Values[index[i]]))];
            var k = axes.Count - 1;
            while (k >= 0 && ++index[k] == axes[k].Values.Count) index[k--] = 0;
            if (k < 0) yield break;
        }
    }

    private static FineTuneMethod MethodOf(List<(string Key, JsonNode? Value)> combination, JsonObject baseSpec)
    {
        var node = combination.Where(c => c.Key == "method").Select(c => c.Value).DefaultIfEmpty(baseSpec["method"]).First();
        return node is JsonValue value && value.TryGetValue<string>(out var name) && string.Equals(name, "full", StringComparison.OrdinalIgnoreCase)
            ? FineTuneMethod.Full
            : FineTuneMethod.Lora;
    }

    private static bool IsLora(string key) => key == "lora" || key.StartsWith("lora.", StringComparison.Ordinal);

    private static JsonObject ChildSpec(JsonObject baseSpec, List<(string Key, JsonNode? Value)> coordinates, FineTuneMethod method, string sweepName, string label)
    {
        var spec = (JsonObject)baseSpec.DeepClone();
        // The base's LoRA settings are for its LoRA children; a full child has none (the validator refuses them).
        if (method == FineTuneMethod.Full && coordinates.Any(c => c.Key == "method")) spec.Remove("lora");
        foreach (var (key, value) in coordinates)
        {
            var segments = key.Split('.');
            var parent = spec;
            foreach (var segment in segments[..^1])
            {
                if (parent[segment] is not JsonObject child) parent[segment] = child = [];
                parent = child;
            }
            parent[segments[^1]] = value?.DeepClone();
        }
        var name = $"{sweepName} [{label}]";
        spec["name"] = name.Length <= 200 ? name : name[..199] + "…";
        return spec;
    }

    private static JsonObject Coordinates(List<(string Key, JsonNode? Value)> coordinates)
    {
        var result = new JsonObject();
        foreach (var (key, value) in coordinates) result[key] = value?.DeepClone();
        return result;
    }

    /// <summary>A JSON number in plain decimals (0.00001, not 1E-05), so labels read as people write rates.</summary>
    private static JsonNode Number(double value) => JsonNode.Parse(value.ToString("0.###################", System.Globalization.CultureInfo.InvariantCulture))!;

    /// <summary>A value as a coordinate label shows it: strings bare, everything else as JSON.</summary>
    public static string Text(JsonNode? value) =>
        value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "null";
}
