using TorchSharp;

namespace LoraService.Worker.Devices;

/// <summary>The device this worker trains on and the Hangfire queue it serves ("gpu" or "cpu").</summary>
public sealed record ComputeDevice(string Kind, string Queue, string Description)
{
    /// <summary>"auto" picks CUDA when libtorch sees a GPU, else CPU; "cpu" and "cuda" force one.</summary>
    public static ComputeDevice Detect(string requested)
    {
        var wantsCuda = requested switch
        {
            "auto" => torch.cuda.is_available(),
            "cuda" => torch.cuda.is_available()
                ? true
                : throw new InvalidOperationException("Worker:Device is 'cuda' but libtorch sees no CUDA device (is this the CUDA build? see Dockerfile.gpu)."),
            "cpu" => false,
            _ => throw new InvalidOperationException($"Worker:Device must be auto, cpu or cuda, not '{requested}'."),
        };
        return wantsCuda
            ? new ComputeDevice("cuda", "gpu", $"CUDA ({torch.cuda.device_count()} device(s))")
            : new ComputeDevice("cpu", "cpu", $"CPU ({Environment.ProcessorCount} cores, {torch.get_num_threads()} torch threads)");
    }
}
