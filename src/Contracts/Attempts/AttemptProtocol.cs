using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoraService.Contracts.Attempts;

/// <summary>
/// The pipe between a worker and the child process that runs one attempt of a job (<c>LoraService.Cli attempt SPEC.json</c>).
/// The child writes one JSON object per line on stdout (everything else it prints goes to stderr); the worker writes
/// commands, one per line, on the child's stdin. When stdin closes (the worker died) the child exits at once, so an
/// orphan never keeps writing into a work folder that another worker has taken over.
/// </summary>
public static class AttemptProtocol
{
    /// <summary>Worker → child: stop after the current step (or evaluation batch), checkpoint, and report <c>cancelled</c>.</summary>
    public const string StopCommand = "stop";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Serialize(AttemptMessage message) => JsonSerializer.Serialize(message, Json);

    /// <summary>Null for a line that is not a protocol message (the worker logs it as child output).</summary>
    public static AttemptMessage? Parse(string line)
    {
        if (line.Length == 0 || line[0] != '{') return null;
        try
        {
            return JsonSerializer.Deserialize<AttemptMessage>(line, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>One line from the child.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(AttemptStarted), "started")]
[JsonDerivedType(typeof(AttemptStep), "step")]
[JsonDerivedType(typeof(AttemptEvaluation), "evaluation")]
[JsonDerivedType(typeof(AttemptCheckpoint), "checkpoint")]
[JsonDerivedType(typeof(AttemptEvent), "event")]
[JsonDerivedType(typeof(AttemptAlive), "alive")]
[JsonDerivedType(typeof(AttemptResult), "result")]
[JsonDerivedType(typeof(AttemptError), "error")]
[JsonDerivedType(typeof(AttemptMetrics), "metrics")]
[JsonDerivedType(typeof(AttemptSamples), "samples")]
public abstract record AttemptMessage;

/// <summary>The child is up and has read its spec.</summary>
public sealed record AttemptStarted(int Pid) : AttemptMessage;

/// <summary>After every optimizer step. Elapsed counts training time across resumed sittings.</summary>
public sealed record AttemptStep(
    int Step, int TotalSteps, double Loss, double LearningRate, double GradNorm, double TokensPerSecond,
    long TokensSeen, double Epoch, double ElapsedSeconds, double EtaSeconds) : AttemptMessage;

public sealed record AttemptMeasurement(string Role, Guid DatasetId, string Metric, double Value);

/// <summary>One evaluation round (step 0 is the base model).</summary>
/// <param name="Seconds">Wall time of the evaluation, when the engine knows it.</param>
public sealed record AttemptEvaluation(int Step, IReadOnlyList<AttemptMeasurement> Measurements, double? Seconds = null) : AttemptMessage;

/// <summary>One example of what the model did: for an exact-match set the prompt, the generation and the reference answer;
/// for a multiple-choice set the context, the choice ranked first (acc_norm) and the labelled choice.</summary>
public sealed record AttemptSample(string Prompt, string Output, string Expected, bool Correct);

/// <summary>The samples one set recorded at an evaluation.</summary>
public sealed record AttemptSetSamples(string Role, Guid DatasetId, string Name, IReadOnlyList<AttemptSample> Samples);

/// <summary>Right after an <see cref="AttemptEvaluation"/>: the samples of the sets that record them.</summary>
public sealed record AttemptSamples(int Step, IReadOnlyList<AttemptSetSamples> Sets) : AttemptMessage;

public sealed record AttemptMetric(string Name, int Step, double Value);

/// <summary>
/// Metric points sent again from the run's journal when it resumes: points its previous attempt computed but the worker
/// may not have stored before it died (steps between the last stored one and the checkpoint).
/// </summary>
public sealed record AttemptMetrics(IReadOnlyList<AttemptMetric> Points) : AttemptMessage;

/// <summary>A checkpoint folder, complete on disk.</summary>
public sealed record AttemptCheckpoint(int Step, string Directory) : AttemptMessage;

/// <summary>Level is info, warning or error.</summary>
/// <param name="Kind">What the worker acts on (e.g. <c>forgetting_budget_exceeded</c>, which raises a webhook); null for a plain message.</param>
/// <param name="Step">The optimizer step the event is about, when it is about one.</param>
public sealed record AttemptEvent(string Level, string Message, string? Kind = null, int? Step = null) : AttemptMessage;

/// <summary>Liveness inside long phases (evaluation, generation, export) where no step message comes.</summary>
public sealed record AttemptAlive(string Phase) : AttemptMessage;

public sealed record AttemptFile(string Kind, string RelativePath, string ContentType);

/// <summary>The last line of a run that ended by itself. Outcome: completed, cancelled or no_steps.</summary>
public sealed record AttemptResult(string Outcome, int StepsCompleted, int TotalSteps, long TokensSeen, IReadOnlyList<AttemptFile> Files) : AttemptMessage;

/// <summary>
/// The run failed with an exception the child caught. Code: <c>out_of_memory</c> (libtorch or .NET allocation failure),
/// <c>invalid_input</c> (spec, data or model the engine refuses), <c>base_model_changed</c> (a resume refused: the base
/// model's weights differ from those the run started on), or <c>training_failed</c>.
/// </summary>
public sealed record AttemptError(string Code, string Message) : AttemptMessage;

public static class AttemptEventTypes
{
    public const string ForgettingBudgetExceeded = "forgetting_budget_exceeded";
}
