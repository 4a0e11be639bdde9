using LoraService.Contracts.Jobs;

namespace LoraService.Domain.Models;

/// <summary>A Hugging Face checkpoint found in (or created in) the models folder.</summary>
public sealed class BaseModel
{
    public Guid Id { get; init; } = Guid.CreateVersion7();
    /// <summary>Folder name under the models directory; unique.</summary>
    public required string Name { get; init; }
    public required string Architecture { get; set; }
    public long Parameters { get; set; }
    public int Layers { get; set; }
    public int HiddenSize { get; set; }
    public int VocabSize { get; set; }
    public int MaxPositions { get; set; }
    public required string Dtype { get; set; }
    public bool HasTokenizer { get; set; }
    public List<string> LoraTargets { get; set; } = [];
    /// <summary>The chat template recognised in the tokenizer (chatml, llama3), null when it has none, or "unrecognised".</summary>
    public string? ChatTemplate { get; set; }
    /// <summary>False when the engine cannot train this model exactly (or cannot read it); <see cref="UnsupportedReason"/> says why.</summary>
    public bool Supported { get; set; } = true;
    public string? UnsupportedReason { get; set; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;

    public ModelFacts Facts() => new(Name, Architecture, Parameters, HiddenSize, MaxPositions, LoraTargets, ChatTemplate, Supported, UnsupportedReason);
}
