using LoraService.Contracts.Jobs;
using System.Text;
using LoraService.Datasets;
using LoraService.Training.Data;
using LoraService.Training.Evaluation;
using LoraService.Training.Tokenization;
using LoraService.Training.Loop;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

public sealed class EndToEndTests
{
    [Fact]
    public async Task Upload_validate_read_tokenize_train_and_evaluate_a_chat_dataset()
    {
        var rows = Enumerable.Range(0, 24).Select(i =>
            $$"""{"messages":[{"role":"user","content":"count {{i % 6}}"},{"role":"assistant","content":"{{string.Concat(Enumerable.Range(i % 6, 4))}}"}]}""");
        var upload = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", rows) + "\n"));
        var stored = new MemoryStream();

        var validation = await JsonlValidator.ValidateAsync(upload, copyTo: stored);
        Assert.True(validation.IsValid);
        Assert.Equal(DatasetFormat.Messages, validation.Format);

        stored.Position = 0;
        using var tokenizer = HfTokenizer.Load(TinyTokenizerFiles.Write(chatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"));
        var template = ChatTemplates.Resolve(null, tokenizer.ChatTemplate);
        var builder = new ExampleBuilder(tokenizer, new ExampleOptions(64), template);
        var examples = builder.Build(DatasetReader.Read(stored, validation.Format!.Value));
        Assert.Equal(24, examples.Count);

        using var model = new TinyLanguageModel(vocab: 260, width: 32);
        var baseline = LossEvaluator.Evaluate(model, examples, 8, tokenizer.Special.PaddingId, CPU)["loss"];
        var evaluate = EvaluationSuite.Hook([new EvalSet("train", () => LossEvaluator.Evaluate(model, examples, 8, tokenizer.Special.PaddingId, CPU))]);
        var result = Trainer.Train(model, model.Trainable(), examples,
            new TrainerOptions(MicroBatchSize: 8, Epochs: 15, EvalEvery: 15, Optimizer: new AdamWOptions(LearningRate: 0.03),
                Schedule: new ScheduleOptions(ScheduleKind.Cosine, WarmupRatio: 0.1)),
            tokenizer.Special.PaddingId, CPU, new TrainerCallbacks(Evaluate: evaluate));

        Assert.Equal(45, result.StepsCompleted);
        var losses = result.Evaluations.Select(e => e.Metrics["train/loss"]).ToList();
        Assert.True(baseline > 5.0, $"an untrained model should be near ln(260) = 5.56, got {baseline}");
        Assert.True(losses[^1] < baseline / 4, $"{baseline} → {string.Join(", ", losses)}");
        Assert.True(losses[^1] <= losses[0], string.Join(", ", losses));
    }
}
