using System.Text.RegularExpressions;
using Hangfire;
using Hangfire.States;
using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

internal static partial class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/v1/models").WithTags("Models");
        models.MapGet("/", List).WithSummary("Base models found in the models folder");
        models.MapGet("/{name}", Get).WithSummary("One base model");
        models.MapPost("/", Create).RequireAuthorization(Auth.AuthPolicies.Admin)
            .WithSummary("Create a random-initialised model (to pretrain from scratch with a full fine-tuning job)")
            .WithDescription("A worker writes the checkpoint in the Hugging Face layout with a byte-level tokenizer; poll the Location until it answers 200.");
        models.MapPost("/sync", Sync).RequireAuthorization(Auth.AuthPolicies.Admin).WithSummary("Ask a worker to re-scan the models folder now (it also does so every five minutes)");
        return app;
    }

    /// <summary>A catalog entry; <c>supported: false</c> means the engine cannot train it, and <c>unsupported_reason</c> names the cause.</summary>
    public sealed record ModelResponse(string Name, string Architecture, long Parameters, int Layers, int HiddenSize, int VocabSize,
        int MaxPositions, string Dtype, bool HasTokenizer, IReadOnlyList<string> LoraTargets, bool Supported, string? UnsupportedReason)
    {
        public static ModelResponse From(BaseModel m) => new(m.Name, m.Architecture, m.Parameters, m.Layers, m.HiddenSize, m.VocabSize,
            m.MaxPositions, m.Dtype, m.HasTokenizer, m.LoraTargets, m.Supported, m.UnsupportedReason);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex ModelName();

    private static async Task<Ok<IReadOnlyList<ModelResponse>>> List(LoraDbContext db, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<ModelResponse>>((await db.BaseModels.AsNoTracking().OrderBy(m => m.Name).ToListAsync(ct)).Select(ModelResponse.From).ToList());

    private static async Task<Results<Ok<ModelResponse>, NotFound>> Get(string name, LoraDbContext db, CancellationToken ct) =>
        await db.BaseModels.AsNoTracking().SingleOrDefaultAsync(m => m.Name == name, ct) is { } model
            ? TypedResults.Ok(ModelResponse.From(model))
            : TypedResults.NotFound();

    private static async Task<Results<Accepted<NewModelSpec>, ProblemHttpResult>> Create(NewModelSpec spec, LoraDbContext db, IBackgroundJobClient jobs, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (!ModelName().IsMatch(spec.Name ?? "")) errors["name"] = ["name must be 1 to 64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit."];
        else if (await db.BaseModels.AnyAsync(m => m.Name == spec.Name, ct)) errors["name"] = [$"A model named '{spec.Name}' exists."];
        if (spec.Architecture is not ("llama" or "gpt2")) errors["architecture"] = ["architecture must be llama or gpt2."];
        if (spec.HiddenSize is < 8 or > 4096) errors["hidden_size"] = ["hidden_size must be between 8 and 4096."];
        if (spec.Layers is < 1 or > 64) errors["layers"] = ["layers must be between 1 and 64."];
        if (spec.Heads < 1 || spec.HiddenSize % spec.Heads != 0) errors["heads"] = [$"heads must divide hidden_size ({spec.HiddenSize})."];
        if (spec.KeyValueHeads is { } kv && (kv < 1 || spec.Heads % kv != 0)) errors["key_value_heads"] = ["key_value_heads must divide heads."];
        if (spec.IntermediateSize is < 1 or > 16384) errors["intermediate_size"] = ["intermediate_size must be between 1 and 16384."];
        if (spec.MaxPositions is < 8 or > 8192) errors["max_positions"] = ["max_positions must be between 8 and 8192."];
        if (errors.Count > 0) return ApiProblems.Unprocessable(errors, "The model spec is invalid.");

        jobs.Create<IModelCatalog>(catalog => catalog.CreateRandom(spec), new EnqueuedState(ModelQueues.Models));
        return TypedResults.Accepted($"/api/v1/models/{spec.Name}", spec);
    }

    private static Accepted Sync(IBackgroundJobClient jobs)
    {
        jobs.Create<IModelCatalog>(catalog => catalog.Sync(), new EnqueuedState(ModelQueues.Models));
        return TypedResults.Accepted("/api/v1/models");
    }
}
