using System.Text.Json;
using LoraService.Contracts.Jobs;

namespace LoraService.Contracts.Tests;

public sealed class JobSpecTests
{
    static readonly ModelFacts Llama = new("tiny-llama", "LlamaForCausalLM", 1_000_000, 64, 128,
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], null);
    static readonly ModelFacts Gpt2 = new("tiny-gpt2", "GPT2LMHeadModel", 500_000, 32, 64, ["c_attn", "c_proj", "c_fc"], null);

    static readonly Dictionary<string, DatasetFacts> Datasets = new()
    {
        ["train"] = new("train", "train", "prompt_completion"),
        ["chat"] = new("chat", "chat", "messages"),
        ["mc"] = new("mc", "mc", "multiple_choice"),
    };

    static JobSpecContext Context(ModelFacts? model = null) =>
        new(model ?? Llama, "no such model", r => Datasets.GetValueOrDefault(r));

    static JobSpec Valid => new() { BaseModel = "tiny-llama", TrainingDataset = "train" };

    static IReadOnlyDictionary<string, string[]> Errors(JobSpec spec, ModelFacts? model = null) => JobSpecValidator.Validate(spec, Context(model));

    [Fact]
    public void The_wire_form_is_snake_case_with_the_documented_defaults()
    {
        var spec = JsonSerializer.Deserialize<JobSpec>("""
            { "base_model": "tiny-llama", "training_dataset": "train", "method": "full",
              "hyperparameters": { "schedule": "linear", "batch_size": 16, "micro_batch_size": 4 },
              "lora": null, "max_wall_time": "01:30:00", "metadata": { "team": "nlp" } }
            """, JobSpecJson.Options)!;

        Assert.Equal((FineTuneMethod.Full, ScheduleKind.Linear, 4), (spec.Method, spec.Hyperparameters.Schedule, spec.Hyperparameters.GradientAccumulationSteps));
        Assert.Equal((0.1, 1.0, (int?)null, 42), (spec.Hyperparameters.WarmupRatio, spec.Hyperparameters.GradientClip, spec.Hyperparameters.MaxSequenceLength, spec.Hyperparameters.Seed));
        Assert.Equal((50, 2, 50, 200, 256), (spec.CheckpointEvery, spec.KeepCheckpoints, spec.Evaluation.EveryNSteps, spec.Evaluation.MaxExamples, spec.Evaluation.MaxNewTokens));
        Assert.Equal(TimeSpan.FromMinutes(90), spec.MaxWallTime);
        Assert.Equal("nlp", spec.Metadata["team"]);
        var json = JsonSerializer.Serialize(spec, JobSpecJson.Options);
        Assert.Contains("\"schedule\": \"linear\"", json);
        Assert.Contains("\"use_rslora\"", JsonSerializer.Serialize(new LoraSettings(), JobSpecJson.Options));
        Assert.Equal(spec.Hyperparameters, JsonSerializer.Deserialize<JobSpec>(json, JobSpecJson.Options)!.Hyperparameters);
    }

    [Theory]
    [InlineData("""{ "base_model": "m", "hyperparameter": {} }""", "hyperparameter")]
    [InlineData("""{ "base_model": "m", "lora": { "rank": "8" } }""", "$.lora.rank")]
    [InlineData("""{ "base_model": "m", "hyperparameters": { "learning_rate": "NaN" } }""", "$.hyperparameters.learning_rate")]
    public void The_wire_form_refuses_unknown_fields_and_numbers_in_strings(string json, string named)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<JobSpec>(json, JobSpecJson.Options));
        Assert.Contains(named, error.Message + error.Path);
    }

    public static TheoryData<string, JobSpec, string> Invalid => new()
    {
        { "base_model", Valid with { BaseModel = " " }, "base_model is required." },
        { "training_dataset", Valid with { TrainingDataset = null }, "training_dataset is required." },
        { "training_dataset", Valid with { TrainingDataset = "mc" }, "Dataset mc has format 'multiple_choice'; training_dataset needs one of text, prompt_completion, messages." },
        { "validation_dataset", Valid with { ValidationDataset = "nope" }, "No dataset nope." },
        { "evaluation.source[1]", Valid with { Evaluation = new EvaluationSettings { Source = ["mc", "nope"] } }, "No dataset nope." },
        { "lora", Valid with { Method = FineTuneMethod.Full, Lora = new LoraSettings() }, "lora settings apply only to method 'lora'." },
        { "lora.rank", Valid with { Lora = new LoraSettings { Rank = 65 } }, "rank 65 is larger than the model's hidden size (64); a LoRA update cannot have a higher rank than its matrix." },
        { "lora.alpha", Valid with { Lora = new LoraSettings { Alpha = double.NaN } }, "alpha must be a finite number." },
        { "lora.dropout", Valid with { Lora = new LoraSettings { Dropout = 1 } }, "dropout must be in [0, 1)." },
        { "lora.target_modules[1]", Valid with { Lora = new LoraSettings { TargetModules = ["q_proj", "c_attn"] } }, "'c_attn' is not a module of tiny-llama (LlamaForCausalLM); it has: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or \"all-linear\"." },
        { "hyperparameters.learning_rate", Valid with { Hyperparameters = new Hyperparameters { LearningRate = 0 } }, "learning_rate must be in (0, 1)." },
        { "hyperparameters.micro_batch_size", Valid with { Hyperparameters = new Hyperparameters { BatchSize = 8, MicroBatchSize = 3 } }, "batch_size (8) must be a multiple of micro_batch_size (3)." },
        { "hyperparameters.max_sequence_length", Valid with { Hyperparameters = new Hyperparameters { MaxSequenceLength = 129 } }, "max_sequence_length 129 exceeds the model's 128 positions." },
        { "hyperparameters.chat_template", Valid with { Hyperparameters = new Hyperparameters { ChatTemplate = "vicuna" } }, "unknown chat template 'vicuna'; choose one of: chatml, llama3, plain (or omit it to use the model's)." },
        { "hyperparameters.warmup_ratio", Valid with { Hyperparameters = new Hyperparameters { WarmupRatio = double.PositiveInfinity } }, "warmup_ratio must be a finite number." },
        { "evaluation.max_new_tokens", Valid with { Evaluation = new EvaluationSettings { MaxNewTokens = 0 } }, "max_new_tokens must be between 1 and 4096." },
        { "evaluation.batch_size", Valid with { Evaluation = new EvaluationSettings { BatchSize = 0 } }, "batch_size must be between 1 and 1024." },
        { "evaluation.batch_tokens", Valid with { Evaluation = new EvaluationSettings { BatchTokens = 2_000_000 } }, "batch_tokens must be between 1 and 1048576." },
        { "evaluation.samples", Valid with { Evaluation = new EvaluationSettings { Samples = 21 } }, "samples must be between 0 and 20." },
        { "keep_checkpoints", Valid with { KeepCheckpoints = -1 }, "keep_checkpoints must be between 0 (all) and 1000." },
        { "max_attempts", Valid with { MaxAttempts = 21 }, "max_attempts must be between 1 and 20." },
        { "max_wall_time", Valid with { MaxWallTime = TimeSpan.FromSeconds(5) }, "max_wall_time must be between 00:00:10 and 30.00:00:00." },
        { "metadata", Valid with { Metadata = Enumerable.Range(0, 17).ToDictionary(i => $"k{i}", i => "v") }, "at most 16 entries; keys of 1 to 64 characters, string values of at most 512." },
        { "tags", Valid with { Tags = [""] }, "at most 20 tags of 1 to 64 characters." },
        { "forgetting_budget", Valid with { ForgettingBudget = new ForgettingBudget { Max = 0.1 } }, "a forgetting budget needs evaluation.source sets to measure forgetting on." },
        { "forgetting_budget.metric", Valid with { Evaluation = new EvaluationSettings { Source = ["mc"] }, ForgettingBudget = new ForgettingBudget { Metric = "loss", Max = 0.1 } }, "'loss' is not measured on the source sets; they produce: acc, acc_norm." },
        { "forgetting_budget.max", Valid with { Evaluation = new EvaluationSettings { Source = ["mc"] }, ForgettingBudget = new ForgettingBudget { Metric = "acc_norm", Max = -1 } }, "max must not be negative." },
        { "evaluation.every_n_steps", Valid with { Evaluation = new EvaluationSettings { Source = ["mc"], EveryNSteps = 0 }, ForgettingBudget = new ForgettingBudget { Metric = "acc_norm", Max = 0.1 } }, "a forgetting budget needs periodic evaluations (every_n_steps of 1 or more)." },
        { "tags", Valid with { Tags = null! }, "tags must be a list of strings (omit it for none)." },
        { "metadata", Valid with { Metadata = null! }, "metadata must be an object of string values (omit it for none)." },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Each_rule_names_its_field_with_the_path_the_client_wrote(string field, JobSpec spec, string message)
    {
        var errors = Errors(spec);
        Assert.Equal([field], errors.Keys);
        Assert.Equal(message, errors[field][0]);
    }

    [Fact]
    public void A_valid_spec_has_no_errors_and_an_unknown_model_is_named()
    {
        Assert.Empty(Errors(Valid));
        var errors = JobSpecValidator.Validate(Valid, new JobSpecContext(null, "No base model named 'x'.", r => Datasets.GetValueOrDefault(r)));
        Assert.Equal(["No base model named 'x'."], errors["base_model"]);
    }

    [Fact]
    public void Messages_data_on_a_model_with_an_unrecognised_chat_template_needs_one_named()
    {
        var model = Llama with { ChatTemplate = ChatTemplateNames.Unrecognised };
        var chat = Valid with { TrainingDataset = "chat" };
        Assert.Equal(["hyperparameters.chat_template"], Errors(chat, model).Keys);
        Assert.Empty(Errors(chat with { Hyperparameters = new Hyperparameters { ChatTemplate = "chatml" } }, model));
        Assert.Empty(Errors(Valid, model)); // no messages data: no template needed
    }

    [Fact]
    public void Resolving_fills_the_method_and_model_dependent_defaults_once()
    {
        var lora = JobSpecResolver.Resolve(Valid, Context());
        Assert.Equal((16, 32.0, 0.05), (lora.Lora!.Rank, lora.Lora.Alpha, lora.Lora.Dropout));
        Assert.Equal(Llama.LoraTargets, lora.Lora.TargetModules);
        Assert.Equal(2e-4, lora.Hyperparameters.LearningRate);
        Assert.Equal(128, lora.Hyperparameters.MaxSequenceLength); // 256, cut to the model's context
        Assert.Equal(256, JobSpecResolver.Resolve(Valid, Context(Llama with { MaxPositions = 4096 })).Hyperparameters.MaxSequenceLength);
        Assert.Equal((true, 3), (lora.ExportMerged, lora.MaxAttempts));
        Assert.Equal(lora.Lora, JobSpecResolver.Resolve(lora, Context()).Lora);
        Assert.Equal(lora.Hyperparameters, JobSpecResolver.Resolve(lora, Context()).Hyperparameters);

        var full = JobSpecResolver.Resolve(Valid with { Method = FineTuneMethod.Full }, Context(), defaultMaxAttempts: 5);
        Assert.Null(full.Lora);
        Assert.Equal(2e-5, full.Hyperparameters.LearningRate);
        Assert.Equal((false, 5), (full.ExportMerged, full.MaxAttempts));

        // PEFT's all-linear means this architecture's projections; GPT-2's are fused.
        var gpt2 = JobSpecResolver.Resolve(Valid with { Lora = new LoraSettings { TargetModules = [LoraSettings.AllLinear], Rank = 4 } }, Context(Gpt2));
        Assert.Equal(["c_attn", "c_proj", "c_fc"], gpt2.Lora!.TargetModules);
        Assert.Equal(8.0, gpt2.Lora.Alpha);

        var explicitAlpha = JobSpecResolver.Resolve(Valid with { Lora = new LoraSettings { Alpha = 3, TargetModules = ["q_proj"] }, Hyperparameters = new Hyperparameters { LearningRate = 1e-3 } }, Context());
        Assert.Equal((3.0, 1e-3), (explicitAlpha.Lora!.Alpha!.Value, explicitAlpha.Hyperparameters.LearningRate!.Value));
        Assert.Equal(["q_proj"], explicitAlpha.Lora.TargetModules);
    }

    [Fact]
    public void A_forgetting_budget_makes_the_job_checkpoint_at_every_evaluation_and_select_keep_them_all()
    {
        var spec = Valid with { Evaluation = new EvaluationSettings { Source = ["mc"], EveryNSteps = 10 }, CheckpointEvery = 50, KeepCheckpoints = 1 };
        var stop = JobSpecResolver.Resolve(spec with { ForgettingBudget = new ForgettingBudget { Metric = "acc_norm", Max = 0.02 } }, Context());
        Assert.Equal((10, 2), (stop.CheckpointEvery, stop.KeepCheckpoints));
        var select = JobSpecResolver.Resolve(spec with { ForgettingBudget = new ForgettingBudget { Metric = "acc_norm", Max = 0.02, Action = BudgetAction.Select } }, Context());
        Assert.Equal((10, 0), (select.CheckpointEvery, select.KeepCheckpoints));
        Assert.Equal((50, 1), (JobSpecResolver.Resolve(spec, Context()).CheckpointEvery, JobSpecResolver.Resolve(spec, Context()).KeepCheckpoints));
        Assert.Empty(Errors(spec with { ForgettingBudget = new ForgettingBudget { Metric = "acc_norm", Max = 0.02 } }));
    }

    [Fact]
    public void A_merged_copy_is_only_the_default_below_two_billion_parameters()
    {
        Assert.True(JobSpecResolver.Resolve(Valid, Context(Llama with { Parameters = 1_999_999_999 })).ExportMerged);
        Assert.False(JobSpecResolver.Resolve(Valid, Context(Llama with { Parameters = 2_000_000_000 })).ExportMerged);
        Assert.True(JobSpecResolver.Resolve(Valid with { ExportMerged = true }, Context(Llama with { Parameters = 8_000_000_000 })).ExportMerged);
    }

    [Fact]
    public void An_unsupported_model_is_refused_on_base_model_with_its_reason_and_nothing_else_about_it()
    {
        var unsupported = Llama with { LoraTargets = [], Supported = false, UnsupportedReason = "rope_scaling.rope_type: yarn is not supported" };
        var errors = Errors(Valid with { Lora = new LoraSettings { TargetModules = ["q_proj"] } }, unsupported);
        Assert.Equal(["base_model"], errors.Keys);
        Assert.Equal("tiny-llama is not supported: rope_scaling.rope_type: yarn is not supported.", Assert.Single(errors["base_model"]));
    }
}
