namespace LoraService.Training.Loop;

/// <summary>
/// Collects the .NET garbage a training step leaves, finalizers included, once per step. TorchSharp frees some
/// native objects only in finalizers (for instance the <c>Scalar</c> it makes for every numeric argument of an
/// operation); thousands of these small blocks per step sit between the step's freed tensors in glibc's heap and
/// keep that memory from being reused, so resident memory climbs from step to step until a collection happens to
/// run. Measured on LoRA r=16 (docs/benchmarks.md): peak RSS 2.29 → 1.86 GB on the medium config, and 3.7 → 3.2 GB
/// on Qwen2.5-0.5B's shapes with gradient checkpointing, at no measurable cost in tokens/s.
/// </summary>
public static class StepGarbage
{
    public static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
