using System.Text.Json;
using LoraService.Contracts.Attempts;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraService.Training.Loop;

/// <summary>Where the trainer stood after a step: enough, with weights, optimizer and RNG state, to continue identically.</summary>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="MicroBatchPosition">Micro-batches consumed since the start, across epochs.</param>
public sealed record TrainerState(int Step, long MicroBatchPosition, long TokensSeen, int TotalSteps, int Seed);

/// <summary>
/// A checkpoint directory <c>checkpoint-NNNNNNNN</c>: trainable weights (<c>trainable.bin</c>, TorchSharp's
/// tensor format, by parameter name), AdamW state (<c>optimizer.bin</c>), the CPU RNG state
/// (<c>rng_state.bin</c>) and <c>trainer_state.json</c>. Written to a temporary directory and renamed,
/// so a directory with the final name is always complete.
/// </summary>
public static class TrainingCheckpoint
{
    public const string WeightsFile = "trainable.bin";
    public const string OptimizerFile = "optimizer.bin";
    public const string RngFile = "rng_state.bin";
    public const string StateFile = "trainer_state.json";
    private const string Prefix = "checkpoint-";

    /// <exception cref="DiskFullException">The device (or quota) filled up while writing: nothing of this checkpoint is
    /// left behind and the earlier checkpoints are untouched.</exception>
    public static string Save(string root, TrainerState state,
        IReadOnlyList<(string Name, Parameter Parameter)> parameters, OptimizerHelper optimizer)
    {
        Directory.CreateDirectory(root);
        var final = DirectoryFor(root, state.Step);
        // One trainer writes per directory: temporary directories left here are from a crash.
        foreach (var stale in Directory.GetDirectories(root, ".tmp-*")) Directory.Delete(stale, recursive: true);
        var temp = Path.Combine(root, $".tmp-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temp);
            WriteFiles(temp, state, parameters, optimizer);
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
            return final;
        }
        catch (Exception e)
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true); }
            catch (IOException) { /* the next save sweeps it */ }
            if (e is not DiskFullException && DiskFullException.IsDiskFull(e))
                throw new DiskFullException($"no space left on device while writing checkpoint step {state.Step} to {root}", e);
            throw;
        }
    }

    /// <summary>Each file is flushed to disk before the directory is renamed, so the final name never points at data still in the page cache.</summary>
    private static void WriteFiles(string directory, TrainerState state,
        IReadOnlyList<(string Name, Parameter Parameter)> parameters, OptimizerHelper optimizer)
    {
        using (var stream = new FileStream(Path.Combine(directory, WeightsFile), FileMode.CreateNew, FileAccess.Write))
        {
            using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(parameters.Count);
                foreach (var (name, parameter) in parameters)
                {
                    writer.Write(name);
                    using var cpu = parameter.detach().cpu();
                    cpu.Save(writer);
                }
            }
            stream.Flush(flushToDisk: true);
        }
        var optimizerFile = Path.Combine(directory, OptimizerFile);
        optimizer.save_state_dict(optimizerFile);
        FlushToDisk(optimizerFile);
        using (var rng = Generator.Default.get_state())
            WriteBytes(Path.Combine(directory, RngFile), rng.bytes.ToArray());
        WriteBytes(Path.Combine(directory, StateFile), JsonSerializer.SerializeToUtf8Bytes(state));
    }

    private static void WriteBytes(string path, byte[] bytes)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    private static void FlushToDisk(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Restores weights, optimizer and RNG state in place and returns where training stood.</summary>
    public static TrainerState Load(string directory,
        IReadOnlyList<(string Name, Parameter Parameter)> parameters, OptimizerHelper optimizer)
    {
        LoadWeights(directory, parameters);
        optimizer.load_state_dict(Path.Combine(directory, OptimizerFile));
        using (var rng = tensor(File.ReadAllBytes(Path.Combine(directory, RngFile)), dtype: ScalarType.Byte))
            Generator.Default.set_state(rng);
        return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(directory, StateFile)))
            ?? throw new InvalidDataException($"{StateFile} is empty");
    }

    /// <summary>Restores only the trainable weights of a checkpoint, in place (e.g. to export an earlier step).</summary>
    public static void LoadWeights(string directory, IReadOnlyList<(string Name, Parameter Parameter)> parameters)
    {
        var byName = parameters.ToDictionary(p => p.Name, p => p.Parameter);
        using var reader = new BinaryReader(File.OpenRead(Path.Combine(directory, WeightsFile)));
        using var _ = no_grad();
        var count = reader.ReadInt32();
        if (count != byName.Count)
            throw new InvalidDataException($"checkpoint holds {count} trainable tensors, the model has {byName.Count}");
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            if (!byName.TryGetValue(name, out var parameter))
                throw new InvalidDataException($"checkpoint tensor '{name}' is not a trainable parameter of this model");
            using var loaded = zeros(parameter.shape, dtype: parameter.dtype);
            loaded.Load(reader);
            parameter.copy_(loaded);
        }
    }

    /// <summary>Where the checkpoint of <paramref name="step"/> lives under <paramref name="root"/> (it may not exist).</summary>
    public static string DirectoryFor(string root, int step) => Path.Combine(root, $"{Prefix}{step:D8}");

    /// <summary>The newest complete checkpoint under <paramref name="root"/>, or null.</summary>
    public static string? Latest(string root) =>
        Directory.Exists(root)
            ? Directory.GetDirectories(root, Prefix + "*")
                .Where(d => File.Exists(Path.Combine(d, StateFile)))
                .OrderBy(d => d, StringComparer.Ordinal)
                .LastOrDefault()
            : null;

    /// <summary>Deletes all but the newest <paramref name="keep"/> checkpoints.</summary>
    public static void Prune(string root, int keep)
    {
        if (keep <= 0 || !Directory.Exists(root)) return;
        foreach (var old in Directory.GetDirectories(root, Prefix + "*").OrderByDescending(d => d, StringComparer.Ordinal).Skip(keep))
            Directory.Delete(old, recursive: true);
    }
}
