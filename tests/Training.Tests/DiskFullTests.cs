using System.Security.Cryptography;
using System.Text.Json;
using LoraService.Contracts.Attempts;
using LoraService.Contracts.Jobs;
using LoraService.Training.Loop;
using LoraService.Training.Models;
using LoraService.Training.Pipeline;

namespace LoraService.Training.Tests;

/// <summary>
/// A disk that fills up during a run, on a real size-limited tmpfs: the write fails with a reason that says what was
/// being written, nothing half-written stays visible, the earlier checkpoint is intact and a run resumes from it once
/// space is freed.
/// </summary>
public sealed class DiskFullTests
{
    private static FineTuneRunSpec Spec(TempDir dir, SmallFilesystem disk, int steps)
    {
        var model = dir["llama"];
        ModelFactory.WriteCheckpoint(model, ModelFactory.TinyLlama(), seed: 1);
        var rows = Enumerable.Range(0, 16).Select(i => JsonSerializer.Serialize(new { prompt = $"Q{i % 8}:", completion = $" #### {2 * (i % 8)}" })).ToList();
        File.WriteAllLines(dir["train.jsonl"], rows);
        File.WriteAllLines(dir["valid.jsonl"], rows.Take(4));
        var spec = TinyRunSpec.Lora(dir, model, steps, new EvaluationSettings { MaxExamples = 4 });
        return spec with
        {
            Job = spec.Job with { ExportMerged = true },
            WorkDirectory = disk["work"],
            OutputDirectory = disk["out"],
        };
    }

    private static Dictionary<string, string> Digests(string directory) =>
        Directory.GetFiles(directory).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    private static long Bytes(string directory) => Directory.GetFiles(directory).Sum(f => new FileInfo(f).Length);

    [SmallFilesystemFact]
    public void A_checkpoint_that_does_not_fit_fails_the_run_with_its_step_leaves_nothing_behind_and_the_previous_one_resumes()
    {
        using var dir = new TempDir();
        using var disk = SmallFilesystem.Mount(64L << 20);
        var spec = Spec(dir, disk, steps: 3);
        var checkpoints = Path.Combine(spec.WorkDirectory, RunLayout.CheckpointsFolder);
        Dictionary<string, string>? first = null;
        var observer = new FineTuneCallbacks(onCheckpoint: (step, directory) =>
        {
            if (step != 1) return;
            first = Digests(directory);
            // Half of a checkpoint's bytes stay free: step 2's does not fit.
            disk.FillLeaving(Bytes(directory) / 2);
        });

        var error = Assert.Throws<DiskFullException>(() => FineTuneRun.Execute(spec, observer));

        Assert.StartsWith($"no space left on device while writing checkpoint step 2 to {checkpoints}", error.Message);
        Assert.True(DiskFullException.IsDiskFull(error.InnerException!), error.InnerException!.ToString());
        // Only step 1's checkpoint is there, byte for byte as written; no temporary folder, no output.
        Assert.Equal(["checkpoint-00000001"], Directory.GetFileSystemEntries(checkpoints).Select(Path.GetFileName));
        Assert.Equal(first, Digests(Path.Combine(checkpoints, "checkpoint-00000001")));
        Assert.False(Directory.Exists(spec.OutputDirectory) && Directory.EnumerateFileSystemEntries(spec.OutputDirectory).Any());

        // Space freed: the run resumes from step 1 and completes.
        disk.FreeFiller();
        var steps = new List<int>();
        var result = FineTuneRun.Execute(spec, new FineTuneCallbacks(onStep: p => steps.Add(p.Step)));
        Assert.Equal(RunOutcome.Completed, result.Outcome);
        Assert.Equal([2, 3], steps);
        Assert.Equal(3, TrainingCheckpointStep(TrainingCheckpoint.Latest(checkpoints)!));
    }

    [SmallFilesystemFact]
    public void An_export_that_does_not_fit_fails_with_its_reason_publishes_nothing_and_the_last_checkpoint_exports_once_space_is_freed()
    {
        using var dir = new TempDir();
        using var disk = SmallFilesystem.Mount(64L << 20);
        var spec = Spec(dir, disk, steps: 2);
        var checkpoints = Path.Combine(spec.WorkDirectory, RunLayout.CheckpointsFolder);
        // After the last checkpoint only 64 KiB stay free: the merged model (the whole tiny model) does not fit.
        var observer = new FineTuneCallbacks(onCheckpoint: (step, _) => { if (step == 2) disk.FillLeaving(64 << 10); });

        var error = Assert.Throws<DiskFullException>(() => FineTuneRun.Execute(spec, observer));

        Assert.StartsWith($"no space left on device while writing the export of step 2 to {spec.OutputDirectory}", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(spec.OutputDirectory)); // no staging folder, no half-written file
        Assert.Equal(2, TrainingCheckpointStep(TrainingCheckpoint.Latest(checkpoints)!));

        disk.FreeFiller();
        var result = FineTuneRun.Execute(spec);
        Assert.Equal(RunOutcome.Completed, result.Outcome);
        Assert.True(File.Exists(Path.Combine(spec.OutputDirectory, RunLayout.AdapterFolder, "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(spec.OutputDirectory, RunLayout.MergedFolder, "model.safetensors")));
    }

    private static int TrainingCheckpointStep(string directory) =>
        int.Parse(Path.GetFileName(directory)["checkpoint-".Length..], System.Globalization.CultureInfo.InvariantCulture);
}
