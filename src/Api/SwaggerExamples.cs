using LoraService.Contracts.Jobs;
using System.Text.Json.Nodes;
using LoraService.Api.Endpoints;
using LoraService.Api.Jobs;
using LoraService.Domain.Models;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace LoraService.Api;

/// <summary>Request examples in Swagger UI, so "Try it out" starts from a body that works.</summary>
internal sealed class SwaggerExamples : ISchemaFilter
{
    private static readonly Dictionary<Type, string> Examples = new()
    {
        [typeof(JobSpec)] = """
            {
              "base_model": "tiny-llama",
              "method": "lora",
              "name": "arithmetic r=8",
              "training_dataset": "01a222c3-bc6e-75e4-affe-ccf5707482aa",
              "validation_dataset": "01a222c3-be11-72f1-af89-5f2b35ab0eda",
              "lora": { "rank": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] },
              "hyperparameters": { "learning_rate": 0.002, "max_steps": 60, "batch_size": 8, "micro_batch_size": 8, "max_sequence_length": 32, "schedule": "cosine", "warmup_ratio": 0.1 },
              "evaluation": { "target": ["01a222c3-be35-7741-8c6d-7d331983b6d3"], "source": ["01a222c3-be58-7e19-bfdd-ee5132efa19e"], "every_n_steps": 20, "max_examples": 20, "max_new_tokens": 12 },
              "checkpoint_every": 20,
              "keep_checkpoints": 2,
              "max_wall_time": "01:00:00",
              "tags": ["quickstart"],
              "metadata": { "experiment": "rank-sweep" }
            }
            """,
        [typeof(NewModelSpec)] = """{ "name": "tiny-gpt2", "architecture": "gpt2", "hidden_size": 64, "layers": 2, "heads": 4, "max_positions": 256, "seed": 0 }""",
        [typeof(IdentityApi.CreateTenantRequest)] = """{ "name": "research-team" }""",
        [typeof(Sweeps.SweepRequest)] = """
            {
              "name": "method-and-rank",
              "base": {
                "base_model": "tiny-llama",
                "training_dataset": "01a222c3-bc6e-75e4-affe-ccf5707482aa",
                "hyperparameters": { "max_steps": 20, "max_sequence_length": 32 },
                "evaluation": { "target": ["01a222c3-be35-7741-8c6d-7d331983b6d3"], "source": ["01a222c3-be58-7e19-bfdd-ee5132efa19e"], "every_n_steps": 10, "max_examples": 16 }
              },
              "grid": { "method": ["lora", "full"], "lora.rank": [4, 16, 64] }
            }
            """,
    };

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is OpenApiSchema concrete && Examples.TryGetValue(context.Type, out var example))
            concrete.Examples = [JsonNode.Parse(example)!];
    }
}
