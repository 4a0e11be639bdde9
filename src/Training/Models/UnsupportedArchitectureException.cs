namespace LoraService.Training.Models;

/// <summary>
/// The checkpoint's config asks for something this engine does not compute exactly. <see cref="Field"/> names the
/// config field at fault (e.g. <c>rope_scaling.rope_type</c>) when one field is the reason.
/// </summary>
public sealed class UnsupportedArchitectureException(string message, string? field = null) : Exception(message)
{
    public string? Field { get; } = field;

    /// <summary>A refusal of <paramref name="field"/> holding <paramref name="value"/>, with why it matters.</summary>
    public static UnsupportedArchitectureException For(string field, string value, string why) =>
        new($"{field}: {value} is not supported ({why})", field);
}
