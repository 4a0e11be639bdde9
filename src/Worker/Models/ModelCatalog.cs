using LoraService.Domain.Models;
using LoraService.Domain.Persistence;
using LoraService.ServiceDefaults;
using LoraService.Training.Models;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Worker.Models;

/// <summary>Keeps the base_models table in step with the models folder (promoted models are refreshed and removed with their folder, never added).</summary>
internal sealed class ModelCatalog(LoraDbContext db, LoraOptions options, ILogger<ModelCatalog> logger) : IModelCatalog
{
    public void Sync()
    {
        Directory.CreateDirectory(options.ModelsPath);
        var rows = db.BaseModels.ToDictionary(m => m.Name);
        var seen = new HashSet<string>();
        foreach (var directory in Directory.EnumerateDirectories(options.ModelsPath))
        {
            var name = Path.GetFileName(directory);
            if (name.StartsWith('.') || !File.Exists(Path.Combine(directory, "config.json"))) continue;
            // A promoted model's folder is registered by its promotion (with its owner), never as a global model.
            if (File.Exists(Path.Combine(directory, PromotedModelStore.MarkerFile)) && !rows.ContainsKey(name)) continue;
            ModelInfo info;
            try
            {
                info = ModelInspector.Inspect(directory);
            }
            catch (Exception e)
            {
                logger.LogWarning("Model folder {Name} cannot be read: {Reason}", name, e.Message);
                info = Unreadable(e.Message);
            }
            seen.Add(name);
            if (!rows.TryGetValue(name, out var row))
                row = db.BaseModels.Add(new BaseModel { Name = name, Architecture = info.Architecture, Dtype = info.Dtype }).Entity;
            row.Architecture = info.Architecture;
            row.Parameters = info.Parameters;
            row.Layers = info.Layers;
            row.HiddenSize = info.HiddenSize;
            row.VocabSize = info.VocabSize;
            row.MaxPositions = info.MaxPositions;
            row.Dtype = info.Dtype;
            row.HasTokenizer = info.HasTokenizer;
            row.LoraTargets = [.. info.LoraTargets];
            row.ChatTemplate = info.ChatTemplate;
            row.Supported = info.Supported;
            row.UnsupportedReason = info.UnsupportedReason;
        }
        db.BaseModels.RemoveRange(rows.Values.Where(r => !seen.Contains(r.Name)));
        db.SaveChanges();
        logger.LogInformation("Model catalog: {Count} model(s) in {Path}", seen.Count, options.ModelsPath);
    }

    /// <summary>A folder that cannot be read at all: listed as unsupported so the reason is visible in the catalog.</summary>
    private static ModelInfo Unreadable(string reason) =>
        new("unknown", 0, 0, 0, 0, 0, "unknown", false, [], null, null, Supported: false, UnsupportedReason: $"cannot be read: {reason}");

    public void CreateRandom(NewModelSpec spec)
    {
        var target = Path.Combine(options.ModelsPath, spec.Name);
        if (Directory.Exists(target))
        {
            logger.LogInformation("Model {Name} exists; not overwriting it", spec.Name);
            Sync();
            return;
        }
        var config = spec.Architecture == "gpt2"
            ? ModelFactory.TinyGpt2(spec.HiddenSize, spec.Layers, spec.Heads, spec.MaxPositions)
            : ModelFactory.TinyLlama(spec.HiddenSize, spec.Layers, spec.Heads, spec.KeyValueHeads ?? spec.Heads,
                spec.IntermediateSize ?? (int)Math.Ceiling(spec.HiddenSize * 8 / 3.0 / 16) * 16, spec.MaxPositions);
        // Write beside the target and rename, so a half-written model never shows up in the catalog.
        var temp = Path.Combine(options.ModelsPath, $".{spec.Name}.{Guid.NewGuid():N}.tmp");
        try
        {
            ModelFactory.WriteCheckpoint(temp, config, spec.Seed);
            Directory.Move(temp, target);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
        logger.LogInformation("Created random {Architecture} model {Name}", spec.Architecture, spec.Name);
        Sync();
    }
}
