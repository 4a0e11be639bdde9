using LoraService.Training.Checkpoints;
using LoraService.Training.Loop;
using LoraService.Training.Models;
using static TorchSharp.torch;

namespace LoraService.Training.Pipeline.Stages;

/// <summary>Load model: the base checkpoint on the device the spec asks for.</summary>
internal static class ModelStage
{
    public static CausalLM Load(RunContext run)
    {
        RunPulse.Enter(RunPulse.Loading);
        var device = run.Spec.Device switch
        {
            DevicePreference.Cpu => CPU,
            DevicePreference.Cuda => cuda.is_available() ? CUDA : throw new InvalidOperationException("device 'cuda' was requested but CUDA is not available"),
            _ => TrainingDevice.Select(preferCuda: true),
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var model = CheckpointLoader.Load(run.Spec.ModelDirectory, out var report, device);
        if (run.Cancellation.IsCancellationRequested)
        {
            model.Dispose();
            run.Cancellation.ThrowIfCancellationRequested();
        }
        RunPulse.Beat();
        var config = model.Config;
        run.Info($"Loaded model {config.Architecture} from {run.Spec.ModelDirectory}: {model.parameters().Sum(p => p.numel()):N0} parameters, " +
            $"{config.NumLayers} layers, on {device.type.ToString().ToLowerInvariant()} in {model.parameters().First().dtype}, " +
            $"in {clock.Elapsed.TotalSeconds:F1} s{(report.Routes.Count > 0 ? $" (tensors: {report.DescribeRoutes()})" : "")}");
        return model;
    }
}
