using LoraService.Contracts.Jobs;
using LoraService.Datasets;
using LoraService.Training.Pipeline;

namespace LoraService.Training.Tests;

/// <summary>A LoRA r=4 run of a tiny model on the train.jsonl / valid.jsonl (prompt_completion) already written in the folder.</summary>
internal static class TinyRunSpec
{
    public static FineTuneRunSpec Lora(TempDir dir, string model, int steps, EvaluationSettings evaluation) => new()
    {
        Job = new JobSpec
        {
            BaseModel = "tiny-llama",
            Lora = new LoraSettings { Rank = 4 },
            Hyperparameters = new Hyperparameters { LearningRate = 1e-2, MaxSteps = steps, BatchSize = 4, MicroBatchSize = 4, MaxSequenceLength = 32, Seed = 7 },
            TrainingDataset = "train",
            ValidationDataset = "valid",
            Evaluation = evaluation,
            CheckpointEvery = 1,
        },
        ModelDirectory = model,
        BaseModelName = "tiny-llama",
        Datasets = new Dictionary<string, RunDataset>
        {
            ["train"] = new(Guid.NewGuid(), "train", dir["train.jsonl"], DatasetFormat.PromptCompletion),
            ["valid"] = new(Guid.NewGuid(), "valid", dir["valid.jsonl"], DatasetFormat.PromptCompletion),
        },
        WorkDirectory = dir["work"],
        OutputDirectory = dir["out"],
        Device = DevicePreference.Cpu,
    };
}
