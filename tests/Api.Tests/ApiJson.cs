using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoraService.Api.Tests;

/// <summary>The API speaks snake_case JSON with string enums.</summary>
internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
