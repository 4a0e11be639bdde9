using LoraService.Contracts.Jobs;
using System.Text;
using LoraService.Datasets;
using LoraService.Tokenization.Examples;
using LoraService.Training.Evaluation;
using LoraService.Tokenization;
using LoraService.Tokenization.Tests;
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
        using var tokenizer = HfTokenizer.Load(TinyTokenizerFiles.Write(chatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"));
        var template = ChatTemplates.Resolve(null, tokenizer.ChatTemplate);
        var builder = new ExampleBuilder(tokenizer, new ExampleOptions(64), template);
        var examples = builder.Build(DatasetReader.Read(stored, validation.Format!.Value));
        Assert.Equal(24, examples.Count);

        using var model = new TinyLanguageModel(vocab: 260, width: 32);
        IReadOnlyDictionary<string, double> Evaluate(int step) => LossEvaluator.Evaluate(model, examples, 8, tokenizer.Special.PaddingId, CPU);
        var baseline = Evaluate(0)["loss"];
        var result = Trainer.Train(model, model.Trainable(), examples,
            new TrainerOptions(MicroBatchSize: 8, Epochs: 15, EvalEvery: 15, Optimizer: new AdamWOptions(LearningRate: 0.03),
                Schedule: new ScheduleOptions(ScheduleKind.Cosine, WarmupRatio: 0.1)),
            tokenizer.Special.PaddingId, CPU, new TrainerCallbacks(Evaluate: Evaluate));

        Assert.Equal(45, result.StepsCompleted);
        Assert.Equal([15, 30, 45], result.Evaluations.Select(e => e.Step));
        var losses = result.Evaluations.Select(e => e.Metrics["loss"]).ToList();
        // Default init: head U(±1/√32) on 32 tanh features, logits' spread σ ≤ √(33/96) ≈ 0.6: ln(260) ± 0.4.
        Assert.InRange(baseline, LossBounds.Uniform(260) - 0.4, LossBounds.Uniform(260) + 0.4);
        // Trained: below every predictor blind to the context on these examples, and no worse at the end than midway.
        Assert.True(losses[^1] < LossBounds.ContextFree(examples), $"{baseline} → {string.Join(", ", losses)}; context-free floor {LossBounds.ContextFree(examples)}");
        Assert.True(losses[^1] <= losses[0], string.Join(", ", losses));
    }
}
