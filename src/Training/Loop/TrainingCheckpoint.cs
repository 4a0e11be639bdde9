using System.Text.Json;
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

    public static string Save(string root, TrainerState state,
        IReadOnlyList<(string Name, Parameter Parameter)> parameters, OptimizerHelper optimizer)
    {
        Directory.CreateDirectory(root);
        var final = DirectoryFor(root, state.Step);
        // One trainer writes per directory: temporary directories left here are from a crash.
        foreach (var stale in Directory.GetDirectories(root, ".tmp-*")) Directory.Delete(stale, recursive: true);
        var temp = Path.Combine(root, $".tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        using (var writer = new BinaryWriter(File.Create(Path.Combine(temp, WeightsFile))))
        {
            writer.Write(parameters.Count);
            foreach (var (name, parameter) in parameters)
            {
                writer.Write(name);
                using var cpu = parameter.detach().cpu();
                cpu.Save(writer);
            }
        }
        optimizer.save_state_dict(Path.Combine(temp, OptimizerFile));
        using (var rng = Generator.Default.get_state())
            File.WriteAllBytes(Path.Combine(temp, RngFile), rng.bytes.ToArray());
        File.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state));
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
        return final;
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
