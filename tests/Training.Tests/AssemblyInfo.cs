// TorchSharp's default RNG is process-wide: seeded tests must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
