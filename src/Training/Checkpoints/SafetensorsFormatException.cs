namespace LoraService.Training.Checkpoints;

/// <summary>A safetensors file that a strict reader refuses; names the file and, when known, the tensor.</summary>
public sealed class SafetensorsFormatException(string file, string? tensor, string problem)
    : Exception(tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}")
{
    public string File { get; } = file;
    public string? Tensor { get; } = tensor;
    public string Problem { get; } = problem;
}
