using System.Text.Json;

namespace LoraService.Domain.Jobs;

/// <summary>A lifecycle or warning message on a job's timeline.</summary>
public sealed class JobEvent
{
    public long Id { get; init; }
    public Guid JobId { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    public string Level { get; init; } = "info";
    public string Type { get; init; } = "message";
    public required string Message { get; init; }
    /// <summary>Optional JSON object with structured details.</summary>
    public string? Data { get; init; }

    public static JobEvent Create(Guid jobId, string message, object? data = null, string level = "info", string type = "message") => new()
    {
        JobId = jobId,
        Message = message,
        Level = level,
        Type = type,
        Data = data is null ? null : JsonSerializer.Serialize(data, JsonSerializerOptions.Web),
    };
}
