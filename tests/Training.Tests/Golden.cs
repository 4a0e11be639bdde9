using System.Text.Json;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>Paths to the golden checkpoints written by transformers and their reference logits.</summary>
static class Golden
{
    public static readonly string[] Names =
    [
        "llama-f32", "llama-gqa-tied-bf16-sharded", "gpt2-f32", "qwen2-f32",
        "llama-rope-llama3", "llama-rope-llama3-bf16-sharded", "llama-rope-linear", "llama-headdim-mlpbias",
        "mistral-f32", "phi3-f32", "qwen3-f32",
    ];

    /// <summary>Every golden checkpoint, as xunit theory data.</summary>
    public static TheoryData<string> All => new(Names);

    public static string Dir(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", "golden", name);

    public static (long[] Ids, Tensor Logits) Reference(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir(name), "reference-logits.json")));
        var root = doc.RootElement;
        var ids = root.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var shape = root.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var values = new List<float>();
        Flatten(root.GetProperty("logits"), values);
        return (ids, tensor(values.ToArray()).reshape(shape));
    }

    static void Flatten(JsonElement e, List<float> into)
    {
        if (e.ValueKind == JsonValueKind.Array)
            foreach (var child in e.EnumerateArray())
                Flatten(child, into);
        else
            into.Add(e.GetSingle());
    }
}
