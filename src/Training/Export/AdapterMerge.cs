using LoraService.Training.Checkpoints;
using static TorchSharp.torch;

namespace LoraService.Training.Export;

/// <summary>A PEFT adapter merged into its base model (<c>W0 + s·B·A</c>), written as a plain Hugging Face checkpoint.</summary>
public static class AdapterMerge
{
    public static void Write(string baseModelDirectory, string adapterDirectory, string destination)
    {
        using var model = CheckpointLoader.Load(baseModelDirectory, CPU);
        AdapterImporter.Load(model, adapterDirectory);
        CheckpointExporter.Save(model, destination, baseModelDirectory);
    }
}
