using System.Text.Json;
using LoraService.Domain.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Domain.Models;

/// <summary>A model name that a global or promoted model already has (or a folder in the models folder holds).</summary>
public sealed class ModelNameTakenException(string name) : Exception($"A model named '{name}' exists.")
{
    public string Name { get; } = name;
}

/// <summary>
/// Installs a promoted model in the models folder, where workers load base models from: the files are written into a
/// hidden temp folder, which is renamed to the model's name, and only then is the row inserted; if the rename or the
/// insert fails, the folder goes again. A promoted folder carries <see cref="MarkerFile"/>, so the catalog's folder sync
/// never registers it as a global model.
/// </summary>
public static class PromotedModelStore
{
    public const string MarkerFile = "promoted.json";

    /// <summary><paramref name="write"/> fills the folder it is given with a Hugging Face checkpoint.</summary>
    public static BaseModel Install(LoraDbContext db, string modelsPath, BaseModel row, Action<string> write)
    {
        Directory.CreateDirectory(modelsPath);
        var target = Path.Combine(modelsPath, row.Name);
        if (Directory.Exists(target)) throw new ModelNameTakenException(row.Name);
        var temp = Path.Combine(modelsPath, $".promote-{row.Name}-{Guid.NewGuid():N}.tmp");
        try
        {
            write(temp);
            File.WriteAllText(Path.Combine(temp, MarkerFile), JsonSerializer.Serialize(new
            {
                owner_tenant_id = row.OwnerTenantId, parent_model = row.ParentModel, job_id = row.SourceJobId, promoted_at = row.PromotedAt,
            }));
            try
            {
                Directory.Move(temp, target);
            }
            catch (IOException) when (Directory.Exists(target))
            {
                throw new ModelNameTakenException(row.Name);
            }
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
        try
        {
            db.BaseModels.Add(row);
            db.SaveChanges();
            return row;
        }
        catch (Exception e)
        {
            db.Entry(row).State = EntityState.Detached;
            Remove(modelsPath, row.Name);
            if (e is DbUpdateException && db.BaseModels.AsNoTracking().Any(m => m.Name == row.Name)) throw new ModelNameTakenException(row.Name);
            throw;
        }
    }

    /// <summary>Deletes a model's folder: renamed aside first, so no reader ever sees half of it.</summary>
    public static void Remove(string modelsPath, string name)
    {
        var folder = Path.Combine(modelsPath, name);
        if (!Directory.Exists(folder)) return;
        var aside = Path.Combine(modelsPath, $".delete-{name}-{Guid.NewGuid():N}.tmp");
        Directory.Move(folder, aside);
        Directory.Delete(aside, recursive: true);
    }

    /// <summary>Copies a checkpoint folder (files and sub-folders) into <paramref name="destination"/>.</summary>
    public static void CopyFolder(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
    }
}

/// <summary>Queue contract: a worker merges a LoRA job's adapter into its base model and installs it as <see cref="Name"/>.</summary>
public sealed record ModelPromotion(Guid JobId, string Name, Guid TenantId, DateTimeOffset RequestedAt);
