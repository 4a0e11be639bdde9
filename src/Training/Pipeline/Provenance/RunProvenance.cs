using System.Reflection;
using System.Text.Json;

namespace LoraService.Training.Pipeline.Provenance;

/// <summary>
/// summary.json's <c>provenance</c>: what produced the result. <see cref="Job"/> is the resolved job spec as
/// <see cref="Contracts.Jobs.JobSpecJson.Options"/> writes it; <see cref="Datasets"/> the SHA-256 of each file the run
/// read, by dataset reference; <see cref="BaseModel"/> the weights digest (see <see cref="WeightsDigest"/>).
/// </summary>
/// <param name="EngineVersion">The Training assembly's informational version (version+commit).</param>
public sealed record RunProvenance(
    string EngineVersion,
    JsonElement Job,
    BaseModelProvenance BaseModel,
    IReadOnlyDictionary<string, DatasetDigest> Datasets)
{
    public static string CurrentEngineVersion { get; } =
        typeof(RunProvenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}

/// <param name="Name">What users load the base model by (<see cref="FineTuneRunSpec.BaseModelName"/>).</param>
/// <param name="WeightsSha256">See <see cref="WeightsDigest"/>.</param>
/// <param name="WeightFiles">Each weight file's SHA-256, by file name.</param>
public sealed record BaseModelProvenance(string Name, string WeightsSha256, IReadOnlyDictionary<string, string> WeightFiles);

/// <param name="File">The file's name.</param>
public sealed record DatasetDigest(string File, string Sha256);
