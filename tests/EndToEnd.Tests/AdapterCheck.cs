using LoraService.Datasets;
using LoraService.Training.Checkpoints;
using LoraService.Training.Evaluation;
using LoraService.Training.Export;
using LoraService.Training.Pipeline;
using LoraService.Tokenization;
using static TorchSharp.torch;

namespace LoraService.EndToEnd.Tests;

/// <summary>What a user does with a downloaded adapter: load it onto the base model with the engine and measure.</summary>
internal static class AdapterCheck
{
    public static double ValidationLoss(string modelDirectory, string adapterDirectory, string validationJsonl, int maxExamples, int maxSequenceLength)
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(modelDirectory);
        AdapterImporter.Load(model, adapterDirectory);
        model.eval();
        using var tokenizer = HfTokenizer.Load(modelDirectory);
        var rows = RunData.ReadRows(validationJsonl, DatasetFormat.PromptCompletion, maxExamples);
        var data = RunData.Build(rows, tokenizer, template: null, maxSequenceLength, trainOnInputs: false);
        return LossEvaluator.Evaluate(model, data.Examples, 4, tokenizer.Special.PaddingId, CPU)["loss"];
    }
}
