namespace LoraService.Api.OpenAi;

/// <summary>
/// OpenAI-style ids over this service's rows: <c>file-</c>, <c>ftjob-</c> and <c>ftckpt-</c> + the row's Guid in "N" form,
/// <c>ftevent-</c> + the event's number. A bare Guid is accepted too, so a native id works here unchanged.
/// </summary>
internal static class OpenAiIds
{
    public const string File = "file-";
    public const string Job = "ftjob-";
    public const string Checkpoint = "ftckpt-";
    public const string Event = "ftevent-";

    public static string Of(string prefix, Guid id) => prefix + id.ToString("N");

    public static bool TryParse(string? text, string prefix, out Guid id)
    {
        id = Guid.Empty;
        if (string.IsNullOrEmpty(text)) return false;
        return text.StartsWith(prefix, StringComparison.Ordinal)
            ? Guid.TryParseExact(text[prefix.Length..], "N", out id)
            : Guid.TryParse(text, out id);
    }

    public static bool TryParseEvent(string? text, out long id)
    {
        id = 0;
        return text is not null && long.TryParse(text.StartsWith(Event, StringComparison.Ordinal) ? text[Event.Length..] : text, out id) && id >= 0;
    }
}
