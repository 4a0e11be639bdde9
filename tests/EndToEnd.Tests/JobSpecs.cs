namespace LoraService.EndToEnd.Tests;

/// <summary>Small job specs that train in seconds on a CPU.</summary>
internal static class JobSpecs
{
    public static object Lora(string model, Guid train, Guid validation, Guid target, Guid source, int steps = 12, int checkpointEvery = 6, double lr = 5e-3, int? maxAttempts = null) => new
    {
        base_model = model,
        method = "lora",
        training_dataset = train,
        validation_dataset = validation,
        lora = new { rank = 4, dropout = 0.05 },
        hyperparameters = new { learning_rate = lr, max_steps = steps, batch_size = 8, micro_batch_size = 4, max_sequence_length = 32, warmup_ratio = 0.1, seed = 7 },
        evaluation = new { target = new[] { target }, source = new[] { source }, every_n_steps = 6, max_examples = 8, max_new_tokens = 12 },
        checkpoint_every = checkpointEvery,
        max_attempts = maxAttempts,
    };

    public static object Full(string model, Guid train, Guid source, int steps = 8) => new
    {
        base_model = model,
        method = "full",
        training_dataset = train,
        hyperparameters = new { learning_rate = 3e-3, max_steps = steps, batch_size = 4, micro_batch_size = 4, max_sequence_length = 32, seed = 3 },
        evaluation = new { source = new[] { source }, every_n_steps = 0, max_examples = 8 },
        checkpoint_every = 0,
    };
}
