namespace LoraService.Domain.Models;

/// <summary>Queue contract for model-folder work, done by workers (the API does not load TorchSharp).</summary>
public interface IModelCatalog
{
    /// <summary>Registers every checkpoint in the models folder and removes rows whose folder is gone.</summary>
    void Sync();

    /// <summary>Writes a random-initialised checkpoint in the Hugging Face layout, then registers it.</summary>
    void CreateRandom(NewModelSpec spec);
}

/// <summary>Queue contract, done by workers: merges a LoRA job's adapter into its base model and installs the result as a promoted model.</summary>
public interface IModelPromoter
{
    void Promote(ModelPromotion promotion);
}

/// <summary>A small model to pretrain from scratch. Byte-level tokenizer: the vocabulary is the 256 bytes plus end-of-text.</summary>
/// <param name="Name">Folder name: lowercase letters, digits, '.', '_' or '-'.</param>
/// <param name="Architecture">llama or gpt2.</param>
public sealed record NewModelSpec(
    string Name,
    string Architecture = "llama",
    int HiddenSize = 64,
    int Layers = 2,
    int Heads = 4,
    int? KeyValueHeads = null,
    int? IntermediateSize = null,
    int MaxPositions = 256,
    int Seed = 0);
