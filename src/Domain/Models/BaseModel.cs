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

    /// <summary>Null for a global model (the models folder); a promoted model belongs to the tenant that promoted it.</summary>
    public Guid? OwnerTenantId { get; init; }
    /// <summary>Lineage of a promoted model: the base model the job trained, the job, and when.</summary>
    public string? ParentModel { get; init; }
    public Guid? SourceJobId { get; init; }
    public DateTimeOffset? PromotedAt { get; init; }

    /// <summary>The row of <paramref name="name"/>, promoted from a job on this model: the same architecture and shape.</summary>
    public BaseModel PromotedAs(string name, Guid tenantId, Guid jobId, DateTimeOffset at) => new()
    {
        Name = name, Architecture = Architecture, Parameters = Parameters, Layers = Layers, HiddenSize = HiddenSize, VocabSize = VocabSize,
        MaxPositions = MaxPositions, Dtype = Dtype, HasTokenizer = HasTokenizer, LoraTargets = [.. LoraTargets], ChatTemplate = ChatTemplate,
        Supported = Supported, UnsupportedReason = UnsupportedReason,
        OwnerTenantId = tenantId, ParentModel = Name, SourceJobId = jobId, PromotedAt = at,
    };

    public ModelFacts Facts() => new(Name, Architecture, Parameters, HiddenSize, MaxPositions, LoraTargets, ChatTemplate, Supported, UnsupportedReason);
}
