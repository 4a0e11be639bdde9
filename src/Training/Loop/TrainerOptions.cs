using System.Text.Json.Serialization;

namespace LoraService.Training.Loop;

/// <param name="Epochs">Passes over the data; ignored when <paramref name="MaxSteps"/> is set.</param>
/// <param name="MaxSteps">Optimizer steps to run, cycling epochs as needed.</param>
/// <param name="GradientAccumulationSteps">Micro-batches per optimizer step.</param>
/// <param name="MaxGradNorm">Clip the total gradient norm to this; 0 or less reports the norm without clipping.</param>
/// <param name="EvalEvery">Run the evaluation hook every N steps (0 = only at the end).</param>
/// <param name="CheckpointEvery">Write a checkpoint every N steps (0 = never); needs <paramref name="CheckpointDirectory"/>.</param>
/// <param name="KeepCheckpoints">How many of the newest checkpoints to keep (0 = all).</param>
/// <param name="CheckpointOnCancel">Write a checkpoint when cancelled, so the job can resume there.</param>
/// <param name="EvaluateBeforeTraining">Run the evaluation hook at step 0 (the base model) when starting fresh, not on resume.</param>
public sealed record TrainerOptions(
    int MicroBatchSize = 4,
    int GradientAccumulationSteps = 1,
    int Epochs = 1,
    int? MaxSteps = null,
    AdamWOptions? Optimizer = null,
    ScheduleOptions? Schedule = null,
    double MaxGradNorm = 1.0,
    int Seed = 42,
    bool Shuffle = true,
    int EvalEvery = 0,
    int CheckpointEvery = 0,
    string? CheckpointDirectory = null,
    int KeepCheckpoints = 0,
    bool CheckpointOnCancel = true,
    bool EvaluateBeforeTraining = false)
{
    [JsonIgnore]
    public AdamWOptions AdamWOrDefault => Optimizer ?? new AdamWOptions();
    [JsonIgnore]
    public ScheduleOptions ScheduleOrDefault => Schedule ?? new ScheduleOptions();
}
