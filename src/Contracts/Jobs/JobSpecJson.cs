using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoraService.Contracts.Jobs;

/// <summary>
/// The wire form of a spec, as the API and the CLI read it: snake_case names and enum strings, numbers as JSON numbers
/// only, unknown fields refused.
/// </summary>
public static class JobSpecJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Applies the wire conventions to <paramref name="options"/> (the API's HTTP options get the same).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        return options;
    }
}
