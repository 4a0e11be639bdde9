using static TorchSharp.torch;

namespace LoraService.Training.Loop;

public static class TrainingDevice
{
    /// <summary>CUDA when requested and available, else CPU.</summary>
    public static Device Select(bool preferCuda) => preferCuda && cuda.is_available() ? CUDA : CPU;
}
