namespace LoraService.ServiceDefaults;

/// <summary>Settings shared by the API and the workers (section "Lora").</summary>
public sealed record LoraOptions
{
    public const string Section = "Lora";

    /// <summary>Folder holding base models, one Hugging Face checkpoint per sub-folder.</summary>
    public string ModelsPath { get; init; } = ".data/models";
    /// <summary>Folder for datasets, checkpoints and artifacts; shared between API and workers.</summary>
    public string ArtifactsPath { get; init; } = ".data/artifacts";
    /// <summary>Apply EF Core migrations when a host starts.</summary>
    public bool MigrateOnStartup { get; init; } = true;
}
